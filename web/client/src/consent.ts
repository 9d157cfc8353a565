/**
 * The recording question. The server says in GET /status whether it records at all
 * (RECORDING=on); only then is the question shown, unticked. The answer travels in the
 * /start body as `record` (true only when ticked).
 */
import { ui } from "./ui";

let offered = false;

/** Ask the server whether recording is offered and show or hide the question. */
export async function loadConsent(): Promise<void> {
  try {
    const res = await fetch("/status", { headers: { Accept: "application/json" } });
    const status = res.ok ? ((await res.json()) as { recording?: unknown }) : {};
    offered = status.recording === true;
  } catch {
    offered = false; // no answer: no question, and nothing is recorded
  }
  ui.consent.hidden = !offered;
  ui.consent.dataset.offered = String(offered); // answered (for tests)
  if (!offered) ui.record.checked = false;
}

/** Whether the candidate agreed to be recorded. */
export function recordConsent(): boolean {
  return offered && ui.record.checked;
}
