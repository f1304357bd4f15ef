/**
 * The Worker's side of the per-subject session index (subject-sessions.ts): how to reach a
 * subject's object (what an entry holds is subject-session-entry.ts). Apart from the
 * Durable Object class, so the Worker side (sessions.ts) does not load the class's module
 * ("cloudflare:workers").
 */
import { log } from "../log/logger";
import type { SubjectSessions } from "./subject-sessions";

/** The index object of a subject. */
export function subjectIndex(
  namespace: DurableObjectNamespace<SubjectSessions>,
  sub: string,
): DurableObjectStub<SubjectSessions> {
  return namespace.get(namespace.idFromName(`sub:${sub}`));
}

/**
 * Take an ended session out of its subject's index. Best effort: a failure is logged and
 * the entry is pruned at its expiry anyway; ending the session never waits on the index
 * being up (its tokens are refused through the sid revocation and its own object regardless).
 */
export async function leaveSubjectIndex(
  namespace: DurableObjectNamespace<SubjectSessions> | undefined,
  sub: string,
  sid: string,
): Promise<void> {
  if (namespace === undefined) return;
  try {
    await subjectIndex(namespace, sub).remove({ sid });
  } catch (error) {
    log.warn("subject_index_unavailable", { sid, reason: (error as Error)?.message });
  }
}
