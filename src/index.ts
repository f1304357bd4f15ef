/**
 * Portcullis: the Worker's entry point. The default export serves requests; the
 * SessionObject class backs the SESSIONS Durable Object binding.
 */
import { createApp } from "./app";

export { SessionObject } from "./sessions/session-object";

export default createApp();
