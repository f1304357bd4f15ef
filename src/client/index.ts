/**
 * `portcullis/client`: the browser SDK for a Portcullis gateway. See docs/client.md.
 */
export type { AxiosInstanceLike, AxiosRequestConfigLike } from "./axios";
export { attachToAxios } from "./axios";
export type { PortcullisClientOptions, SessionEndReason, TokenChange, TokenSource } from "./client-options";
export type { PortcullisClientErrorCode, PortcullisClientErrorOptions } from "./errors";
export { PortcullisClientError } from "./errors";
export { createPortcullisClient, PortcullisClient } from "./portcullis-client";
export type { SessionInfo, SessionPage, SessionPageOptions } from "./session-list";
export type { BroadcastChannelLike, CrossTabOptions, LockManagerLike } from "./tab-coordinator";
