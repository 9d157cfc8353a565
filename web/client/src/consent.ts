/**
 * The recording question. The server says in GET /status whether it records at all
 * (RECORDING=on); only then is the question shown, unticked. The answer travels in the
 * /start body as `record` (true only when ticked).
 */
import { ui } from "./ui";

let offered = false;

/** Show or hide the question, from what GET /status said (null: no answer). */
export function applyConsent(status: { recording?: unknown } | null): void {
  offered = status?.recording === true; // no answer: no question, and nothing is recorded
  ui.consent.hidden = !offered;
  ui.consent.dataset.offered = String(offered); // answered (for tests)
  if (!offered) ui.record.checked = false;
}

/** Whether the candidate agreed to be recorded. */
export function recordConsent(): boolean {
  return offered && ui.record.checked;
}
