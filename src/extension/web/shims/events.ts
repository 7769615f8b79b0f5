// `events` for the browser bundle: the part of Node's EventEmitter that
// @vscode/debugadapter and the debug session use.

type Listener = (...args: unknown[]) => void;

export class EventEmitter {
  private readonly listenersByEvent = new Map<string | symbol, Listener[]>();

  on(event: string | symbol, listener: Listener): this {
    const list = this.listenersByEvent.get(event);
    if (list) list.push(listener);
    else this.listenersByEvent.set(event, [listener]);
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  once(event: string | symbol, listener: Listener): this {
    const wrapped: Listener = (...args) => {
      this.off(event, wrapped);
      listener.apply(this, args);
    };
    return this.on(event, wrapped);
  }

  off(event: string | symbol, listener: Listener): this {
    const list = this.listenersByEvent.get(event);
    if (list) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.listenersByEvent.delete(event);
    }
    return this;
  }

  removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.listenersByEvent.clear();
    else this.listenersByEvent.delete(event);
    return this;
  }

  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.listenersByEvent.get(event);
    if (!list || list.length === 0) {
      if (event === 'error') throw args[0] instanceof Error ? args[0] : new Error(String(args[0]));
      return false;
    }
    for (const l of list.slice()) l.apply(this, args);
    return true;
  }

  listeners(event: string | symbol): Listener[] {
    return (this.listenersByEvent.get(event) ?? []).slice();
  }

  listenerCount(event: string | symbol): number {
    return this.listenersByEvent.get(event)?.length ?? 0;
  }

  setMaxListeners(): this {
    return this;
  }
}

export default EventEmitter;
