/** When a server that exited is started again. No `vscode` import. */

export class RestartBudget {
  private readonly times: number[] = [];

  /** At most `max` automatic restarts in any `windowMs`. */
  constructor(
    private readonly max = 3,
    private readonly windowMs = 3 * 60 * 1000,
  ) {}

  /**
   * Whether to restart a server that exited at `now`. A server that never answered `initialize` is not
   * restarted: it would only fail the same way again (bad command, missing module).
   */
  allow(now: number, wasRunning: boolean): boolean {
    if (!wasRunning) {
      return false;
    }
    while (this.times.length > 0 && now - (this.times[0] ?? now) > this.windowMs) {
      this.times.shift();
    }
    if (this.times.length >= this.max) {
      return false;
    }
    this.times.push(now);
    return true;
  }
}
