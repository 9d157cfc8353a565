/** What the server offers (GET /status, read once at load): recording, connections. */
import { applyConnection } from "./connection";
import { applyConsent } from "./consent";

export async function loadServerOptions(): Promise<void> {
  let status: Record<string, unknown> | null = null;
  try {
    const res = await fetch("/status", { headers: { Accept: "application/json" } });
    status = res.ok ? ((await res.json()) as Record<string, unknown>) : null;
  } catch {
    status = null;
  }
  applyConsent(status);
  applyConnection(status);
}
