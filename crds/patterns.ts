/**
 * Kubernetes name syntaxes as zod strings whose regular expressions are valid in both JavaScript and RE2
 * (the apiserver's OpenAPI `pattern` and CEL `matches()`), so each is checked identically on both sides.
 *
 * @module
 */
import { z } from "zod";

/** RFC 1123 label: lowercase alphanumerics and '-', alphanumeric at both ends (≤ 63 characters). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1035 label: like DNS_LABEL but starting with a letter; Service names must be one. */
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 subdomain: dot-separated DNS labels (≤ 253 characters); Secret names are one. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * IANA_SVC_NAME without its "at least one letter" and length parts: alphanumeric runs joined by single
 * hyphens. Kept as a separate pattern because RE2 has no lookahead to express all rules in one.
 */
export const IANA_SVC_NAME_RUNS = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** IANA_SVC_NAME's "contains a letter" rule (a name is never all digits, so "8080" is not a name). */
export const CONTAINS_LETTER = /[a-z]/;

/** Label key: optional DNS-subdomain prefix and '/', then a name of ≤ 63 alphanumerics, '-', '_', '.'. */
export const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Label value: empty, or ≤ 63 alphanumerics, '-', '_', '.' starting and ending alphanumeric. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * An HTTP request path: "/" then printable ASCII (0x21-0x7E). Spelled as a byte range, not with `\s`: RE2 (the
 * apiserver) reads `\s` as ASCII whitespace only, JavaScript as Unicode whitespace too, so `[^\s]` accepted a
 * no-break space at admission that the programs then refused.
 */
export const HTTP_PATH = /^\/[!-~]*$/;

/** HTTP header field name (RFC 9110 token). */
export const HTTP_TOKEN = /^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/;

/** metav1.Condition type: an optional DNS-subdomain prefix and '/', then a qualified name part. */
export const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;

/** metav1.Condition reason: CamelCase-ish identifier. */
export const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** A DNS label string (port names). */
export function dnsLabel(): z.ZodString {
  return z.string().max(63).regex(
    DNS_LABEL,
    "must be a DNS label: lowercase letters, digits and '-', alphanumeric at both ends",
  );
}

/** A DNS subdomain string (object names such as Secrets). */
export function dnsSubdomain(): z.ZodString {
  return z.string().max(253).regex(
    DNS_SUBDOMAIN,
    "must be a DNS subdomain: dot-separated lowercase letters, digits and '-', alphanumeric at both ends",
  );
}

/** An IANA_SVC_NAME: ≤ 15 characters, lowercase alphanumerics and single inner hyphens, at least one letter. */
export function ianaSvcName(): z.ZodString {
  return z.string().max(15)
    .regex(IANA_SVC_NAME_RUNS, "a port name has lowercase letters and digits, joined by single hyphens")
    .regex(CONTAINS_LETTER, "a port name needs at least one letter (a number must not be quoted)");
}
