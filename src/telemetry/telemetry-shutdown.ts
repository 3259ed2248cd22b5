/**
 * The bridge between instrumentation.ts (loaded with --import, owns the OpenTelemetry SDK) and
 * main.ts (must flush spans at shutdown without importing, and so loading, the SDK itself).
 * A global symbol is used because the two are separate module graphs' entry points.
 */
const HOOK = Symbol.for('chittyid.telemetry.shutdown');

type ShutdownHook = () => Promise<void>;

/** Called by instrumentation.ts once the SDK is started. */
export function registerTelemetryShutdown(hook: ShutdownHook): void {
  (globalThis as Record<symbol, unknown>)[HOOK] = hook;
}

/** True when instrumentation.ts started an SDK in this process. */
export function telemetryActive(): boolean {
  return typeof (globalThis as Record<symbol, unknown>)[HOOK] === 'function';
}

/**
 * Flushes and stops tracing if it was started; a no-op otherwise. Waits at most `timeoutMs`
 * (an unreachable collector must not eat the shutdown budget) and never throws.
 */
export async function shutdownTelemetry(timeoutMs = 5000): Promise<void> {
  const hook = (globalThis as Record<symbol, unknown>)[HOOK];
  if (typeof hook !== 'function') return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([(hook as ShutdownHook)(), timeout]);
  } catch {
    // Losing the last few spans is not worth failing shutdown over.
  } finally {
    clearTimeout(timer);
  }
}
