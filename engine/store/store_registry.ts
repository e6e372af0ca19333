/**
 * The stores an endpoint runs: one actor per store name and role, as
 * Broker's core keeps, shared by every handle attached to it, and stopped
 * when its last handle closes.
 *
 * @example
 * ```ts
 * import { StoreRegistry } from "./store_registry.ts";
 * import { Endpoint } from "../endpoint.ts";
 * const ep = new Endpoint();
 * const stores = new StoreRegistry(ep);
 * const a = stores.attachMaster("kv"), b = stores.attachMaster("kv");
 * a.close(); // b still holds the master
 * b.close();
 * await ep.shutdown();
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { StoreBackend } from "./backend.ts";
import { type CloneOptions, StoreClone } from "./clone.ts";
import { type MasterOptions, StoreMaster } from "./master.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { Store } from "./store.ts";
import type { StoreActor, StoreHost } from "./store_common.ts";

interface SharedStore {
  readonly actor: StoreActor;
  handles: number;
}

/** The masters and clones of one endpoint. */
export class StoreRegistry {
  readonly #host: StoreHost;
  readonly #masters = new Map<string, SharedStore>();
  readonly #clones = new Map<string, SharedStore>();

  /** The stores of the endpoint `host`. */
  constructor(host: StoreHost) {
    this.#host = host;
  }

  /**
   * A handle on the master of `name`, started with `backend` unless it runs
   * already. The backend is the master's from here on: one it does not use
   * (the master runs already with another) or that comes with a refusal
   * (`master_exists`, a bad option) is closed at once, as Broker's core
   * opens a backend only for a master it starts.
   */
  attachMaster(
    name: string,
    backend: StoreBackend = new MemoryBackend(),
    options?: MasterOptions,
  ): Store {
    const running = this.#masters.get(name)?.actor;
    if (running instanceof StoreMaster && !running.closed) {
      if (running.backend !== backend) backend.close();
      return this.#share(this.#masters, name, () => running);
    }
    let master: StoreMaster;
    try {
      master = new StoreMaster(this.#host, name, backend, options);
    } catch (e) {
      closeUnused(backend);
      throw e;
    }
    return this.#share(this.#masters, name, () => master);
  }

  /**
   * Stops every store (the endpoint shut down): a master closes its backend
   * now, where its own tick would notice the shutdown only up to a tick later.
   */
  closeAll(): void {
    for (const actor of this.actors()) actor.close();
  }

  /**
   * A handle on a clone of `name`; `BrokerError(no_such_master)` when this
   * endpoint is the master of `name`, as Broker refuses.
   */
  attachClone(name: string, options?: CloneOptions): Store {
    if (this.#masters.get(name)?.actor.closed === false) {
      throw new BrokerError(
        ErrorCode.no_such_master,
        `this endpoint is the master of ${name}; a clone of it here is refused, as Broker does`,
      );
    }
    return this.#share(this.#clones, name, () => new StoreClone(this.#host, name, options));
  }

  /** The running store actors (masters, then clones). */
  actors(): StoreActor[] {
    const out: StoreActor[] = [];
    for (const m of [this.#masters, this.#clones]) {
      for (const s of m.values()) if (!s.actor.closed) out.push(s.actor);
    }
    return out;
  }

  // One actor per store name and role; handles count.
  #share(map: Map<string, SharedStore>, name: string, make: () => StoreActor): Store {
    let slot = map.get(name);
    if (!slot || slot.actor.closed) map.set(name, slot = { actor: make(), handles: 0 });
    slot.handles++;
    const s = slot;
    return new Store(s.actor, () => {
      if (--s.handles > 0) return;
      s.actor.close();
      if (map.get(name) === s) map.delete(name);
    });
  }
}

/**
 * Closes a backend no master will use (an attach refused it), keeping the
 * refusal as the error the caller sees: a failure to close it too (a batch
 * its commit lost) would only hide why the attach failed.
 *
 * @example
 * ```ts
 * import { closeUnused } from "./store_registry.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * closeUnused(new MemoryBackend());
 * ```
 */
export function closeUnused(backend: StoreBackend | undefined): void {
  try {
    backend?.close();
  } catch {
    // the attach's own error is the one to report
  }
}
