/**
 * Why a token was refused, as Envoy's jwt_authn (jwt_verify_lib) names it: the words are the
 * 401 body and, with spaces as `_`, the access log's response details. `missing` is not a refusal
 * by itself: a rule allows a request with no token (Istio's allow_missing).
 */
export const STATUS = {
  missing: "Jwt is missing",
  badFormat: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
  headerBase64: "Jwt header is an invalid Base64url encoded",
  headerJson: "Jwt header is an invalid JSON",
  headerAlg: "Jwt header [alg] field is required and must be a string",
  algNotImplemented: "Jwt header [alg] is not supported",
  headerKid: "Jwt header [kid] field is not a string",
  payloadBase64: "Jwt payload is an invalid Base64url encoded",
  payloadJson: "Jwt payload is an invalid JSON",
  issNotString: "Jwt payload [iss] field is not a string",
  subNotString: "Jwt payload [sub] field is not a string",
  iatNotInteger: "Jwt payload [iat] field is not an integer",
  nbfNotInteger: "Jwt payload [nbf] field is not an integer",
  expNotInteger: "Jwt payload [exp] field is not an integer",
  audNotString: "Jwt payload [aud] field is not a string or string list",
  signatureBase64: "Jwt signature is an invalid Base64url encoded",
  notYetValid: "Jwt not yet valid",
  expired: "Jwt is expired",
  unknownIssuer: "Jwt issuer is not configured",
  audienceNotAllowed: "Audiences in Jwt are not allowed",
  verificationFails: "Jwt verification fails",
  jwksJson: "Jwks is an invalid JSON",
  jwksNoValidKeys: "Jwks doesn't have any valid public key",
  jwksKidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
  jwksFetchFail: "Jwks remote fetch is failed",
} as const;

export type Status = (typeof STATUS)[keyof typeof STATUS];

/** Envoy's response code details for a refusal: `jwt_authn_access_denied{Jwt_is_expired}`. */
export const detailsOf = (status: Status) => `jwt_authn_access_denied{${status.replace(/ /g, "_")}}`;
