/**
 * The benchmark's floor: a Worker that only forwards each request to UPSTREAM_URL and
 * hands the answer back. Any Worker proxy costs at least this much.
 */
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(`${env.UPSTREAM_URL}${url.pathname}${url.search}`, request);
  },
};
