/**
 * DPoP key pairs in IndexedDB, where a browser keeps a `CryptoKey` by structured clone:
 * the private key stays non-extractable in storage too, survives reloads, and is the same
 * key for every tab of the origin.
 *
 * One database (`portcullis`), one object store (`dpop-keys`), one record per gateway
 * origin. Keeping a pair is a single readwrite transaction that reads first and writes only
 * when nothing usable is there; IndexedDB runs readwrite transactions on one store one at
 * a time, across tabs too, so of two tabs that generated a key at the same moment the
 * second finds the first's key and both use it.
 *
 * The IndexedDB types are described here by the parts used, so the module type-checks
 * without the DOM library (the SDK's shared code also builds for Workers and Node).
 */
import { type DpopKeyStore, isDpopKeyPair, memoryKeyStore } from "./dpop-key";

interface IdbRequestLike {
  readonly result: unknown;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

interface IdbOpenRequestLike extends IdbRequestLike {
  onupgradeneeded: (() => void) | null;
}

interface IdbObjectStoreLike {
  get(key: string): IdbRequestLike;
  put(value: unknown, key: string): IdbRequestLike;
}

interface IdbTransactionLike {
  readonly error: unknown;
  objectStore(name: string): IdbObjectStoreLike;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

interface IdbDatabaseLike {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(storeNames: string, mode: "readonly" | "readwrite"): IdbTransactionLike;
  close(): void;
  onversionchange: (() => void) | null;
}

/** The part of the `indexedDB` global the key store uses. */
export interface IndexedDbFactoryLike {
  open(name: string, version: number): IdbOpenRequestLike;
}

export interface IndexedDbKeyStoreOptions {
  /** Default: the `indexedDB` global. */
  readonly indexedDB?: IndexedDbFactoryLike;
  /** Default `"portcullis"`. */
  readonly databaseName?: string;
  /** Default `"dpop-keys"`. */
  readonly storeName?: string;
}

const DATABASE_VERSION = 1;

function openDatabase(factory: IndexedDbFactoryLike, name: string, storeName: string): Promise<IdbDatabaseLike> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, DATABASE_VERSION);
    request.onupgradeneeded = () => {
      const database = request.result as IdbDatabaseLike;
      if (!database.objectStoreNames.contains(storeName)) database.createObjectStore(storeName);
    };
    request.onsuccess = () => {
      const database = request.result as IdbDatabaseLike;
      // A later version opened in another tab waits for this connection: let it go.
      database.onversionchange = () => database.close();
      resolve(database);
    };
    request.onerror = () => reject(request.error);
  });
}

/** Run `work` in one transaction; resolves with what `work` settled on once it commits. */
async function inTransaction<T>(
  factory: IndexedDbFactoryLike,
  databaseName: string,
  storeName: string,
  mode: "readonly" | "readwrite",
  work: (store: IdbObjectStoreLike, settle: (value: T) => void) => void,
): Promise<T> {
  const database = await openDatabase(factory, databaseName, storeName);
  try {
    return await new Promise<T>((resolve, reject) => {
      const transaction = database.transaction(storeName, mode);
      let outcome: { value: T } | undefined;
      transaction.oncomplete = () =>
        outcome === undefined ? reject(new Error("transaction ended without a result")) : resolve(outcome.value);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error ?? new Error("transaction aborted"));
      work(transaction.objectStore(storeName), (value) => {
        outcome = { value };
      });
    });
  } finally {
    database.close();
  }
}

/**
 * A {@link DpopKeyStore} in IndexedDB. Throws when there is no IndexedDB; use
 * {@link defaultKeyStore} to fall back to memory.
 */
export function indexedDbKeyStore(options: IndexedDbKeyStoreOptions = {}): DpopKeyStore {
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IndexedDbFactoryLike }).indexedDB;
  if (factory === undefined) throw new TypeError("no IndexedDB here");
  const databaseName = options.databaseName ?? "portcullis";
  const storeName = options.storeName ?? "dpop-keys";
  return {
    get: (origin) =>
      inTransaction<CryptoKeyPair | undefined>(factory, databaseName, storeName, "readonly", (store, settle) => {
        const request = store.get(origin);
        request.onsuccess = () => settle(isDpopKeyPair(request.result) ? request.result : undefined);
      }),
    keep: (origin, pair) =>
      inTransaction<CryptoKeyPair>(factory, databaseName, storeName, "readwrite", (store, settle) => {
        const request = store.get(origin);
        request.onsuccess = () => {
          if (isDpopKeyPair(request.result)) {
            settle(request.result);
            return;
          }
          store.put(pair, origin);
          settle(pair);
        };
      }),
  };
}

/** IndexedDB where the platform has it (browsers), otherwise memory (Node). */
export function defaultKeyStore(): DpopKeyStore {
  const factory = (globalThis as { indexedDB?: IndexedDbFactoryLike }).indexedDB;
  return factory === undefined ? memoryKeyStore() : indexedDbKeyStore({ indexedDB: factory });
}
