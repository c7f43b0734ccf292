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
    /// token => hash of its counted (latest) ballot; zero while the token is unspent
    mapping(address => bytes32) public ballotOf;
    /// ballot hash => CAST (stops a replay of a superseded ballot; a cast ballot can never be
    /// published as checked) or CHALLENGED (a checked ballot's nonce is public: never counted)
    mapping(bytes32 => uint8) public ballotState;
    uint8 private constant CAST = 1;
    uint8 private constant CHALLENGED = 2;

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

    /// The modulus words at memory address p (16 words, 512 bytes, always).
    function _writeModulus(uint256 p) private view {
        bytes32[16] memory w = [n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, n12, n13, n14, n15];
        assembly {
            for { let i := 0 } lt(i, 512) { i := add(i, 32) } { mstore(add(p, i), mload(add(w, i))) }
        }
    }

    function registrarModulus() external view returns (bytes memory out) {
        uint256 k = modulusLength;
        out = new bytes(512);
        uint256 p;
        assembly {
            p := add(out, 32)
        }
        _writeModulus(p);
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
        if (previous != bytes32(0) && !revoteAllowed) revert TokenAlreadyUsed(token);
        bytes32 ballotHash = sha256(ballot);
        uint8 state = ballotState[ballotHash];
        if (state == CAST) revert BallotAlreadyCast(ballotHash);
        if (state == CHALLENGED) revert BallotWasChallenged(ballotHash);
        if (!verifyBinding(token, ballotHash, bindingSignature)) revert InvalidBindingSignature();
        if (!verifyRegistrarSignature(token, registrarSignature)) revert InvalidRegistrarSignature();

        seq = ballotCount;
        ballotCount = uint64(seq + 1);
        if (previous != bytes32(0)) emit BallotSuperseded(token, previous, ballotHash);
        ballotOf[token] = ballotHash;
        ballotState[ballotHash] = CAST;
        emit BallotCast(seq, token, ballotHash);
    }

    /// A ballot the voter chose to check (Benaloh challenge): published with its master nonce,
    /// never counted.
    function challengeBallot(bytes calldata ballot, bytes32 masterNonce)
        external
        inPhase(Phase.Open)
        returns (uint256 seq)
    {
        if (!isKiosk[msg.sender]) revert NotKiosk();
        if (ballot.length == 0) revert EmptyBallot();
        bytes32 ballotHash = sha256(ballot);
        uint8 state = ballotState[ballotHash];
        if (state == CAST) revert BallotAlreadyCast(ballotHash);
        if (state == CHALLENGED) revert BallotWasChallenged(ballotHash);
        ballotState[ballotHash] = CHALLENGED;
        seq = challengedCount++;
        emit BallotChallenged(seq, msg.sender, ballotHash, ballot, masterNonce);
    }

    // --- verifiers (public so that tests and observers can call them) ----------------------------

    /// The token key's ECDSA signature (r ‖ s ‖ v, 65 bytes) over the binding digest.
    function verifyBinding(address token, bytes32 ballotHash, bytes calldata signature)
        public
        view
        returns (bool)
    {
        if (signature.length != 65 || token == address(0)) return false;
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v != 27 && v != 28) return false;
        if (uint256(s) > HALF_ORDER || uint256(s) == 0 || uint256(r) == 0) return false;
        bytes32 digest = keccak256(abi.encodePacked(BINDING_TAG, block.chainid, address(this), ballotHash));
        address signer = ecrecover(digest, v, r, s);
        return signer != address(0) && signer == token;
    }

    /// RSASSA-PSS verification with SHA-256, MGF1-SHA-256 and salt length 0 of the message
    /// electionId ‖ token (RFC 9474's RSABSSA-SHA256-PSSZERO-Deterministic). Word-wise: the
    /// signature is compared with n, and the masked DB with MGF1(H), 32 bytes at a time.
    function verifyRegistrarSignature(address token, bytes calldata signature) public view returns (bool ok) {
        uint256 k = modulusLength;
        if (signature.length != k) return false;
        bytes32 mHash = sha256(abi.encodePacked(electionId, token));
        // modexp input: len(s) ‖ len(e) ‖ len(n) ‖ s ‖ 01 00 01 ‖ n (+ room for 16 full words)
        bytes memory input = new bytes(96 + k + 3 + 512);
        uint256 base;
        assembly {
            base := add(input, 32)
        }
        uint256 modPtr = base + 99 + k;
        _writeModulus(modPtr);
        uint256 emBits = modulusBits - 1;
        assembly {
            // signature < n, word by word (the last word may be partial)
            let less := 0
            for { let i := 0 } lt(i, k) { i := add(i, 32) } {
                let a := calldataload(add(signature.offset, i))
                let b := mload(add(modPtr, i))
                let rest := sub(k, i)
                if lt(rest, 32) {
                    let sh := mul(8, sub(32, rest))
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
            let e := add(m, k)
            mstore8(e, 1)
            mstore8(add(e, 1), 0)
            mstore8(add(e, 2), 1)
            // m = s^e mod n, written over s
            ok := and(less, staticcall(gas(), 0x05, base, add(99, mul(2, k)), m, k))
            let emLen := div(add(emBits, 7), 8)
            let offset := sub(k, emLen) // 0, or 1 when modBits = 1 (mod 8)
            if and(eq(offset, 1), iszero(iszero(byte(0, mload(m))))) { ok := 0 }
            if iszero(eq(byte(31, mload(add(m, sub(k, 32)))), 0xbc)) { ok := 0 }
            let db := add(m, offset)
            let dbLen := sub(emLen, 33)
            let h := mload(add(db, dbLen))
            let topBits := sub(mul(8, emLen), emBits) // DB[0]'s top bits, which must be zero
            if topBits { if shr(sub(256, topBits), mload(db)) { ok := 0 } }
            // With no salt, DB = 00..00 01: maskedDB xor MGF1(H) must be exactly that.
            for { let i := 0 } and(ok, lt(mul(i, 32), dbLen)) { i := add(i, 1) } {
                mstore(0, h)
                mstore(32, shl(224, i))
                if iszero(staticcall(gas(), 0x02, 0, 36, 0, 32)) { ok := 0 }
                let x := xor(mload(add(db, mul(i, 32))), mload(0))
                if iszero(i) { x := and(x, shr(topBits, not(0))) }
                let rest := sub(dbLen, mul(i, 32))
                switch gt(rest, 32)
                case 1 { if x { ok := 0 } }
                default { if iszero(eq(shr(mul(8, sub(32, rest)), x), 1)) { ok := 0 } }
            }
            // H = sha256(00^8 || mHash || empty salt)
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
