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
    bytes public registrarModulus;
    bytes public registrarExponent;

    Phase public phase;
    uint256 public ballotCount;
    uint256 public challengedCount;
    bytes32 public resultHash;
    bytes32 public transcriptHash;

    address[] private kioskList;
    mapping(address => bool) public isKiosk;
    /// token => hash of its counted (latest) ballot; zero while the token is unspent
    mapping(address => bytes32) public ballotOf;
    /// token => 1 + seq of its latest ballot
    mapping(address => uint256) private seqOf;
    /// ballot hash => CAST (stops a replay of a superseded ballot) or CHALLENGED (a checked
    /// ballot's nonce is public: it must never be counted)
    mapping(bytes32 => uint8) public ballotState;
    uint8 private constant CAST = 1;
    uint8 private constant CHALLENGED = 2;

    event PhaseChanged(Phase phase);
    event BallotCast(
        uint256 indexed seq,
        address indexed token,
        bytes32 indexed ballotHash,
        bytes registrarSignature,
        bytes bindingSignature,
        bytes ballot
    );
    event BallotSuperseded(
        address indexed token, bytes32 indexed oldBallotHash, bytes32 indexed newBallotHash, uint256 oldSeq
    );
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
        registrarModulus = modulus;
        registrarExponent = exponent;
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
    ) external inPhase(Phase.Open) returns (uint256 seq) {
        if (ballot.length == 0) revert EmptyBallot();
        bytes32 previous = ballotOf[token];
        if (previous != bytes32(0) && !revoteAllowed) revert TokenAlreadyUsed(token);
        bytes32 ballotHash = sha256(ballot);
        uint8 state = ballotState[ballotHash];
        if (state == CAST) revert BallotAlreadyCast(ballotHash);
        if (state == CHALLENGED) revert BallotWasChallenged(ballotHash);
        if (!verifyBinding(token, ballotHash, bindingSignature)) revert InvalidBindingSignature();
        if (!verifyRegistrarSignature(token, registrarSignature)) revert InvalidRegistrarSignature();

        seq = ballotCount++;
        if (previous != bytes32(0)) {
            emit BallotSuperseded(token, previous, ballotHash, seqOf[token] - 1);
        }
        ballotOf[token] = ballotHash;
        seqOf[token] = seq + 1;
        ballotState[ballotHash] = CAST;
        emit BallotCast(seq, token, ballotHash, registrarSignature, bindingSignature, ballot);
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
    /// electionId ‖ token (RFC 9474's RSABSSA-SHA256-PSSZERO-Deterministic).
    function verifyRegistrarSignature(address token, bytes calldata signature) public view returns (bool) {
        bytes memory n = registrarModulus;
        if (signature.length != n.length || !_lessThan(signature, n)) return false;
        bytes memory m = _modexp(signature, registrarExponent, n);
        if (m.length != n.length) return false;
        // emBits = modBits − 1; EM is the last ceil(emBits / 8) bytes of m.
        uint256 emBits = 8 * n.length - _leadingZeroBits(uint8(n[0])) - 1;
        return _emsaPssVerify(m, emBits, sha256(abi.encodePacked(electionId, token)));
    }

    function _emsaPssVerify(bytes memory m, uint256 emBits, bytes32 mHash) private view returns (bool) {
        uint256 emLen = (emBits + 7) / 8;
        uint256 offset = m.length - emLen; // 0, or 1 when modBits ≡ 1 (mod 8)
        if (offset == 1 && m[0] != 0) return false;
        if (emLen < 34 || uint8(m[m.length - 1]) != 0xbc) return false;
        uint256 dbLen = emLen - 33;
        bytes32 h;
        assembly {
            h := mload(add(add(m, 32), add(offset, dbLen)))
        }
        uint8 topMask = uint8(0xff >> (8 * emLen - emBits)); // DB[0]'s bits that may be set
        if (uint8(m[offset]) & ~topMask != 0) return false;
        // With no salt, DB = 00…00 01: so maskedDB must equal MGF1(H), with the top bits of
        // its first byte cleared and its last byte xor 0x01.
        for (uint256 i = 0; i * 32 < dbLen; i++) {
            bytes32 maskBlock = sha256(abi.encodePacked(h, uint32(i)));
            uint256 end = (i + 1) * 32 > dbLen ? dbLen : (i + 1) * 32;
            for (uint256 j = i * 32; j < end; j++) {
                uint8 expected = uint8(maskBlock[j - i * 32]);
                if (j == 0) expected &= topMask;
                if (j == dbLen - 1) expected ^= 0x01;
                if (uint8(m[offset + j]) != expected) return false;
            }
        }
        return sha256(abi.encodePacked(bytes8(0), mHash)) == h;
    }

    function _lessThan(bytes calldata a, bytes memory b) private pure returns (bool) {
        for (uint256 i = 0; i < b.length; i++) {
            if (uint8(a[i]) != uint8(b[i])) return uint8(a[i]) < uint8(b[i]);
        }
        return false;
    }

    function _leadingZeroBits(uint8 x) private pure returns (uint256 count) {
        while (count < 8 && x & (0x80 >> count) == 0) count++;
    }

    function _modexp(bytes calldata base, bytes memory exponent, bytes memory modulus)
        private
        view
        returns (bytes memory result)
    {
        bytes memory input = abi.encodePacked(base.length, exponent.length, modulus.length, base, exponent, modulus);
        result = new bytes(modulus.length);
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x05, add(input, 32), mload(input), add(result, 32), mload(modulus))
        }
        if (!ok) return new bytes(0);
    }
}
