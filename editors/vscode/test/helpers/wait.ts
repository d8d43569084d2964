/** Waiting in the stand-in `vscode` tests: on the fake's events, never on timers. */
import { type EventEmitter, fake } from './fakeVscode';

/** Resolves once `read()` satisfies `test`, checking again whenever `changes` (one or more) fires (no timers). */
export function until<T>(changes: EventEmitter<unknown> | EventEmitter<unknown>[], read: () => T, test: (value: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      const value = read();
      if (test(value)) {
        subscription?.dispose();
        resolve(value);
        return true;
      }
      return false;
    };
    let subscription: { dispose(): void } | undefined;
    if (!check()) {
      const subscriptions = (Array.isArray(changes) ? changes : [changes]).map((emitter) =>
        emitter.event(() => {
          check();
        }));
      subscription = {
        dispose: () => {
          for (const s of subscriptions) {
            s.dispose();
          }
        },
      };
    }
  });
}

export const statusBar = (text: string): Promise<string> =>
  until(fake.statusBar.changes as EventEmitter<unknown>, () => fake.statusBar.text, (value) => value === text);
