/**
 * `portcullis/client`: the browser SDK for a Portcullis gateway. See docs/client.md.
 */

export type { TokenScheme } from "./access-token";
export type { AxiosInstanceLike, AxiosRequestConfigLike } from "./axios";
export { attachToAxios } from "./axios";
export type {
  DpopOptions,
  PortcullisClientOptions,
  SessionEndReason,
  TokenChange,
  TokenSource,
} from "./client-options";
export type { DpopKeyStore } from "./dpop-key";
export { memoryKeyStore } from "./dpop-key";
export type { IndexedDbFactoryLike, IndexedDbKeyStoreOptions } from "./dpop-key-store";
export { indexedDbKeyStore } from "./dpop-key-store";
export type { PortcullisClientErrorCode, PortcullisClientErrorOptions } from "./errors";
export { PortcullisClientError } from "./errors";
export type { RequestAuthorization } from "./gateway-request";
export { createPortcullisClient, PortcullisClient } from "./portcullis-client";
export type { SessionInfo, SessionPage, SessionPageOptions } from "./session-list";
export type { StepUpChallenge } from "./step-up";
export { stepUpChallenge, stepUpLoginUrl } from "./step-up";
export type { BroadcastChannelLike, CrossTabOptions, LockManagerLike } from "./tab-coordinator";
