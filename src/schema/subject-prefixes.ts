/**
 * The `sub` prefix of a service client's tokens (machines/, POST /auth/token): namespaced,
 * so it never names a person, and the one kind of the gateway's own tokens without a `sid`.
 * Here, below config/ and tokens/, because both read it: the verifier, and the check that
 * no trusted issuer's subject_prefix can make such a subject.
 */
export const SERVICE_SUBJECT_PREFIX = "svc|";
