// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title BallotBox — ippyo's ballot box for one election
/// @notice Accepts an encrypted ballot only with the registrar's RSA blind signature
/// (RFC 9474, RSABSSA-SHA256-PSSZERO-Deterministic) on a fresh token, and a signature by that
/// token's key over (chain id, this contract, sha256(ballot)). Ballots live in calldata and
/// logs, never in storage: the chain keeps only which token cast which ballot hash.
/// @dev The protocol is documented in docs/protocol.md and docs/chain.md. Compiled for the
/// `paris` EVM (no PUSH0) so geth 1.13 Clique networks accept it.
contract BallotBox {
    enum Phase {
        Setup,
        Open,
        Closed,
        Tallied
    }

    /// bytes32 of the ASCII tag, zero-padded on the right (Python: election.token.BINDING_TAG).
    bytes32 public constant BINDING_TAG = "ippyo/ballot-binding/v1";
    /// Half the secp256k1 order: signatures with a larger s are malleable and refused.
    uint256 private constant HALF_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    address public immutable admin;
    bytes32 public immutable electionId;
    bytes32 public immutable baseHash;
    bool public immutable revoteAllowed;
    /// The registrar's RSA modulus lives in the code (immutables), not in storage: reading it
    /// costs a few gas instead of 2,100 per word. Up to 4096 bits = 16 words, left-aligned.
    uint256 private immutable modulusLength;
    uint256 private immutable modulusBits;
    bytes32 private immutable n0;
    bytes32 private immutable n1;
    bytes32 private immutable n2;
    bytes32 private immutable n3;
    bytes32 private immutable n4;
    bytes32 private immutable n5;
    bytes32 private immutable n6;
    bytes32 private immutable n7;
    bytes32 private immutable n8;
    bytes32 private immutable n9;
    bytes32 private immutable n10;
    bytes32 private immutable n11;
    bytes32 private immutable n12;
    bytes32 private immutable n13;
    bytes32 private immutable n14;
    bytes32 private immutable n15;

    // One slot: the phase and both counters (castBallot reads and writes it once).
    Phase public phase;
    uint64 public ballotCount;
    uint64 public challengedCount;
    bytes32 public resultHash;
    bytes32 public transcriptHash;

    address[] private kioskList;
    mapping(address => bool) public isKiosk;
    /// The one storage slot a cast writes: token => hash of its counted (latest) ballot; zero
    /// while the token is unspent, CHECKED_ONLY once a challenge named the token before it cast.
    /// It decides TokenAlreadyUsed, a replay of the token's counted ballot, and whether the
    /// cast must look at ballotMark (only a token with a history can meet a marked ballot that
    /// matters; docs/chain.md, "One storage slot per token").
    mapping(address => bytes32) public ballotOf;
    /// ballot hash => SUPERSEDED (it was a token's counted ballot until a re-vote replaced it: a
    /// replay must not bring it back) or CHALLENGED (a checked ballot: its nonce is public, it
    /// is never counted). Written only by a re-vote or a challenge.
    mapping(bytes32 => uint8) public ballotMark;
    uint8 private constant SUPERSEDED = 1;
    uint8 private constant CHALLENGED = 2;
    bytes32 private constant CHECKED_ONLY = bytes32(uint256(1));

    event PhaseChanged(Phase phase);
    /// The ballot, the registrar's signature and the binding are not repeated in the log: they
    /// are the calldata of the transaction that emitted this event (a direct call to
    /// castBallot), which every node serves (eth_getTransactionByHash); readers check that
    /// sha256(calldata ballot) equals ballotHash. See docs/chain.md.
    event BallotCast(uint256 indexed seq, address indexed token, bytes32 indexed ballotHash);
    event BallotSuperseded(address indexed token, bytes32 indexed oldBallotHash, bytes32 indexed newBallotHash);
    event BallotChallenged(
        uint256 indexed seq, address indexed kiosk, bytes32 indexed ballotHash, bytes ballot, bytes32 masterNonce
    );
    event ResultPublished(bytes32 resultHash, bytes32 transcriptHash, bytes result);

    error NotAdmin();
    error NotKiosk();
    error WrongPhase(Phase current, Phase required);
    error EmptyBallot();
    error InvalidBindingSignature();
    error InvalidRegistrarSignature();
    error TokenAlreadyUsed(address token);
    error BallotAlreadyCast(bytes32 ballotHash);
    error InvalidConfiguration(string reason);
    error RegistrarExponentNot65537();
    error RegistrarKeySize(uint256 bits);
    error BallotWasChallenged(bytes32 ballotHash);

    constructor(
        bytes32 electionId_,
        bytes32 baseHash_,
        bytes memory modulus,
        bytes memory exponent,
        bool revoteAllowed_,
        address[] memory kiosks
    ) {
        if (electionId_ == bytes32(0)) revert InvalidConfiguration("election id is zero");
        if (baseHash_ == bytes32(0)) revert InvalidConfiguration("base hash is zero");
        if (modulus.length == 0 || modulus[0] == 0) {
            revert InvalidConfiguration("registrar modulus is empty or has a leading zero byte");
        }
        uint256 bits = 8 * modulus.length - _leadingZeroBits(uint8(modulus[0]));
        if (bits < 2048 || bits > 4096) revert RegistrarKeySize(bits);
        if (uint8(modulus[modulus.length - 1]) & 1 == 0) revert InvalidConfiguration("registrar modulus is even");
        if (exponent.length != 3 || exponent[0] != 0x01 || exponent[1] != 0x00 || exponent[2] != 0x01) {
            revert RegistrarExponentNot65537();
        }
        for (uint256 i = 0; i < kiosks.length; i++) {
            if (kiosks[i] == address(0)) revert InvalidConfiguration("kiosk address is zero");
            if (isKiosk[kiosks[i]]) revert InvalidConfiguration("kiosk listed twice");
            isKiosk[kiosks[i]] = true;
            kioskList.push(kiosks[i]);
        }
        admin = msg.sender;
        electionId = electionId_;
        baseHash = baseHash_;
        revoteAllowed = revoteAllowed_;
        modulusLength = modulus.length;
        modulusBits = bits;
        n0 = _word(modulus, 0);
        n1 = _word(modulus, 1);
        n2 = _word(modulus, 2);
        n3 = _word(modulus, 3);
        n4 = _word(modulus, 4);
        n5 = _word(modulus, 5);
        n6 = _word(modulus, 6);
        n7 = _word(modulus, 7);
        n8 = _word(modulus, 8);
        n9 = _word(modulus, 9);
        n10 = _word(modulus, 10);
        n11 = _word(modulus, 11);
        n12 = _word(modulus, 12);
        n13 = _word(modulus, 13);
        n14 = _word(modulus, 14);
        n15 = _word(modulus, 15);
    }

    /// Word i of the modulus (left-aligned, zero past its end).
    function _word(bytes memory b, uint256 i) private pure returns (bytes32 w) {
        uint256 start = 32 * i;
        if (start >= b.length) return bytes32(0);
        assembly {
            w := mload(add(add(b, 32), start))
        }
        uint256 rest = b.length - start;
        if (rest < 32) w &= bytes32(~(type(uint256).max >> (8 * rest)));
    }

    /// The modulus words at memory address p: its first k bytes (whole words, left-aligned).
    function _writeModulus(uint256 p, uint256 k) private view {
        bytes32 a = n0;
        bytes32 b = n1;
        bytes32 c = n2;
        bytes32 d = n3;
        assembly ("memory-safe") {
            mstore(p, a)
            mstore(add(p, 32), b)
            mstore(add(p, 64), c)
            mstore(add(p, 96), d)
        }
        a = n4;
        b = n5;
        c = n6;
        d = n7;
        assembly ("memory-safe") {
            mstore(add(p, 128), a)
            mstore(add(p, 160), b)
            mstore(add(p, 192), c)
            mstore(add(p, 224), d)
        }
        if (k <= 256) return;
        a = n8;
        b = n9;
        c = n10;
        d = n11;
        assembly ("memory-safe") {
            mstore(add(p, 256), a)
            mstore(add(p, 288), b)
            mstore(add(p, 320), c)
            mstore(add(p, 352), d)
        }
        a = n12;
        b = n13;
        c = n14;
        d = n15;
        assembly ("memory-safe") {
            mstore(add(p, 384), a)
            mstore(add(p, 416), b)
            mstore(add(p, 448), c)
            mstore(add(p, 480), d)
        }
    }

    function registrarModulus() external view returns (bytes memory out) {
        uint256 k = modulusLength;
        out = new bytes(512);
        uint256 p;
        assembly {
            p := add(out, 32)
        }
        _writeModulus(p, 512);
        assembly {
            mstore(out, k)
        }
    }

    function registrarExponent() external pure returns (bytes memory) {
        return hex"010001";
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin();
        _;
    }

    modifier inPhase(Phase required) {
        if (phase != required) revert WrongPhase(phase, required);
        _;
    }

    // --- phases -------------------------------------------------------------------------------

    function open() external onlyAdmin inPhase(Phase.Setup) {
        phase = Phase.Open;
        emit PhaseChanged(Phase.Open);
    }

    function close() external onlyAdmin inPhase(Phase.Open) {
        phase = Phase.Closed;
        emit PhaseChanged(Phase.Closed);
    }

    function publishResult(bytes calldata result, bytes32 transcriptHash_)
        external
        onlyAdmin
        inPhase(Phase.Closed)
    {
        resultHash = sha256(result);
        transcriptHash = transcriptHash_;
        phase = Phase.Tallied;
        emit ResultPublished(resultHash, transcriptHash_, result);
        emit PhaseChanged(Phase.Tallied);
    }

    function kiosks() external view returns (address[] memory) {
        return kioskList;
    }

    // --- ballots ------------------------------------------------------------------------------

    function castBallot(
        address token,
        bytes calldata registrarSignature,
        bytes calldata ballot,
        bytes calldata bindingSignature
    ) external returns (uint256 seq) {
        Phase current = phase;
        if (current != Phase.Open) revert WrongPhase(current, Phase.Open);
        if (ballot.length == 0) revert EmptyBallot();
        bytes32 previous = ballotOf[token];
        bool spent = uint256(previous) > 1; // a counted ballot, not CHECKED_ONLY
        if (spent && !revoteAllowed) revert TokenAlreadyUsed(token);
        bytes32 ballotHash = _sha256(ballot);
        if (previous != bytes32(0)) {
            // The token has a history (a counted ballot, or a checked one it was named in).
            if (previous == ballotHash) revert BallotAlreadyCast(ballotHash);
            uint8 mark = ballotMark[ballotHash];
            if (mark == SUPERSEDED) revert BallotAlreadyCast(ballotHash);
            if (mark == CHALLENGED) revert BallotWasChallenged(ballotHash);
        }
        if (!_verifyBinding(token, ballotHash, bindingSignature)) revert InvalidBindingSignature();
        if (!_verifyRegistrarSignature(token, registrarSignature)) revert InvalidRegistrarSignature();

        seq = ballotCount;
        ballotCount = uint64(seq + 1);
        if (spent) {
            ballotMark[previous] = SUPERSEDED;
            emit BallotSuperseded(token, previous, ballotHash);
        }
        ballotOf[token] = ballotHash;
        emit BallotCast(seq, token, ballotHash);
    }

    /// A ballot the voter chose to check (Benaloh challenge): published with its master nonce,
    /// never counted. `token` names the voting session's token (zero: none): the contract then
    /// refuses that token's counted ballot, and that token can never cast this ballot.
    function challengeBallot(address token, bytes calldata ballot, bytes32 masterNonce)
        external
        inPhase(Phase.Open)
        returns (uint256 seq)
    {
        if (!isKiosk[msg.sender]) revert NotKiosk();
        if (ballot.length == 0) revert EmptyBallot();
        bytes32 ballotHash = _sha256(ballot);
        uint8 mark = ballotMark[ballotHash];
        if (mark == CHALLENGED) revert BallotWasChallenged(ballotHash);
        if (mark == SUPERSEDED) revert BallotAlreadyCast(ballotHash);
        if (token != address(0)) {
            bytes32 counted = ballotOf[token];
            if (counted == ballotHash) revert BallotAlreadyCast(ballotHash);
            if (counted == bytes32(0)) ballotOf[token] = CHECKED_ONLY;
        }
        ballotMark[ballotHash] = CHALLENGED;
        seq = challengedCount++;
        emit BallotChallenged(seq, msg.sender, ballotHash, ballot, masterNonce);
    }

    // --- verifiers (public so that tests and observers can call them) ----------------------------

    function verifyBinding(address token, bytes32 ballotHash, bytes calldata signature)
        external
        view
        returns (bool)
    {
        return _verifyBinding(token, ballotHash, signature);
    }

    function verifyRegistrarSignature(address token, bytes calldata signature) external view returns (bool) {
        return _verifyRegistrarSignature(token, signature);
    }

    /// sha256 of calldata bytes, through the precompile, in memory past the free pointer.
    function _sha256(bytes calldata data) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, data.offset, data.length)
            if iszero(staticcall(gas(), 0x02, p, data.length, 0, 32)) { revert(0, 0) }
            h := mload(0)
        }
    }

    /// The token key's ECDSA signature (r ‖ s ‖ v, 65 bytes) over
    /// keccak256(BINDING_TAG ‖ chain id ‖ this contract ‖ ballotHash); low s, v 27/28.
    function _verifyBinding(address token, bytes32 ballotHash, bytes calldata signature)
        private
        view
        returns (bool ok)
    {
        bytes32 tag = BINDING_TAG;
        assembly ("memory-safe") {
            let r := calldataload(signature.offset)
            let s := calldataload(add(signature.offset, 32))
            let v := byte(0, calldataload(add(signature.offset, 64)))
            ok := and(
                and(eq(signature.length, 65), iszero(iszero(token))),
                and(
                    or(eq(v, 27), eq(v, 28)),
                    and(iszero(gt(s, HALF_ORDER)), and(iszero(iszero(s)), iszero(iszero(r))))
                )
            )
            if ok {
                let p := mload(0x40)
                mstore(p, tag)
                mstore(add(p, 32), chainid())
                mstore(add(p, 64), shl(96, address()))
                mstore(add(p, 84), ballotHash)
                mstore(p, keccak256(p, 116))
                mstore(add(p, 32), v)
                mstore(add(p, 64), r)
                mstore(add(p, 96), s)
                mstore(0, 0)
                pop(staticcall(gas(), 0x01, p, 128, 0, 32))
                ok := eq(mload(0), token)
            }
        }
    }

    /// RSASSA-PSS verification with SHA-256, MGF1-SHA-256 and salt length 0 of the message
    /// electionId ‖ token (RFC 9474's RSABSSA-SHA256-PSSZERO-Deterministic). Word-wise: the
    /// signature is compared with n, and the masked DB with MGF1(H), 32 bytes at a time.
    function _verifyRegistrarSignature(address token, bytes calldata signature) private view returns (bool ok) {
        uint256 k = modulusLength;
        if (signature.length != k) return false;
        bytes32 id = electionId;
        uint256 base;
        assembly ("memory-safe") {
            base := mload(0x40)
        }
        // modexp input: len(s) ‖ len(e) ‖ len(n) ‖ s ‖ 01 00 01 ‖ n
        uint256 modPtr = base + 99 + k;
        assembly ("memory-safe") {
            // 01 00 01 right after s; n follows from the 4th byte on
            mstore(sub(modPtr, 3), 0x0100010000000000000000000000000000000000000000000000000000000000)
        }
        _writeModulus(modPtr, k);
        uint256 emBits = modulusBits - 1;
        assembly ("memory-safe") {
            // signature < n, word by word (the last word may be partial)
            let less := 0
            for { let i := 0 } lt(i, k) { i := add(i, 32) } {
                let a := calldataload(add(signature.offset, i))
                let b := mload(add(modPtr, i))
                let rest := sub(k, i)
                if lt(rest, 32) {
                    let sh := shl(3, sub(32, rest))
                    a := shr(sh, a)
                    b := shr(sh, b)
                }
                if iszero(eq(a, b)) {
                    less := lt(a, b)
                    break
                }
            }
            mstore(base, k)
            mstore(add(base, 32), 3)
            mstore(add(base, 64), k)
            let m := add(base, 96)
            calldatacopy(m, signature.offset, k)
            // m = s^e mod n, written over s
            ok := and(less, staticcall(gas(), 0x05, base, add(99, shl(1, k)), m, k))
            let emLen := shr(3, add(emBits, 7))
            let offset := sub(k, emLen) // 0, or 1 when modBits = 1 (mod 8)
            if and(offset, iszero(iszero(byte(0, mload(m))))) { ok := 0 }
            if iszero(eq(and(mload(add(m, sub(k, 32))), 0xff), 0xbc)) { ok := 0 }
            let db := add(m, offset)
            let dbLen := sub(emLen, 33)
            let h := mload(add(db, dbLen))
            let topBits := sub(shl(3, emLen), emBits) // DB[0]'s top bits, which must be zero
            if shr(sub(256, topBits), mload(db)) { ok := 0 }
            // With no salt, DB = 00..00 01: maskedDB xor MGF1(H) must be exactly that.
            mstore(0, h)
            let full := shr(5, sub(dbLen, 1)) // words before the last (partial or full) one
            for { let i := 0 } lt(i, full) { i := add(i, 1) } {
                mstore(32, shl(224, i))
                if iszero(staticcall(gas(), 0x02, 0, 36, 32, 32)) { ok := 0 }
                let x := xor(mload(add(db, shl(5, i))), mload(32))
                if iszero(i) { x := and(x, shr(topBits, not(0))) }
                if x { ok := 0 }
            }
            {
                mstore(32, shl(224, full))
                if iszero(staticcall(gas(), 0x02, 0, 36, 32, 32)) { ok := 0 }
                let x := xor(mload(add(db, shl(5, full))), mload(32))
                if iszero(full) { x := and(x, shr(topBits, not(0))) }
                let rest := sub(dbLen, shl(5, full)) // 1..32 bytes of DB in this word
                if iszero(eq(shr(shl(3, sub(32, rest)), x), 1)) { ok := 0 }
            }
            // mHash = sha256(electionId ‖ token); H must be sha256(00^8 ‖ mHash ‖ empty salt)
            mstore(0, id)
            mstore(32, shl(96, token))
            if iszero(staticcall(gas(), 0x02, 0, 52, 0, 32)) { ok := 0 }
            let mHash := mload(0)
            mstore(0, 0)
            mstore(8, mHash)
            if iszero(staticcall(gas(), 0x02, 0, 40, 0, 32)) { ok := 0 }
            if iszero(eq(mload(0), h)) { ok := 0 }
        }
    }

    function _leadingZeroBits(uint8 x) private pure returns (uint256 count) {
        while (count < 8 && x & (0x80 >> count) == 0) count++;
    }
}
