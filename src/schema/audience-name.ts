/**
 * The form of an upstream assertion's audience, as UPSTREAM_ASSERTION_AUDIENCE and a route
 * rule's `assertion_audience` give it: a URL or any other name the upstream checks for, so
 * only its form is the gateway's to check.
 */

/** A name without spaces or quotes ("https://billing.internal", "urn:orders-api"). */
export function isAudienceName(value: string): boolean {
  return value !== "" && !/[\s"]/.test(value);
}
