/**
 * How the page reaches the interviewer: the local WebSocket (always), or a Daily room when
 * the server runs TRANSPORT=daily (GET /status lists `transports`). With both, the candidate
 * picks; the server's default (`transport`) comes first.
 *
 * Daily's call engine (@daily-co/daily-js) loads from Daily's servers at run time, so a Daily
 * room needs the internet; offline the page says so and offers the local connection.
 */
import { ui } from "./ui";

export type ConnectionKind = "websocket" | "daily";

let offered: ConnectionKind[] = ["websocket"];

/** Offer the connections the server has, from what GET /status said (null: no answer). */
export function applyConnection(status: { transport?: unknown; transports?: unknown } | null): void {
  const listed = Array.isArray(status?.transports) ? status.transports : ["websocket"];
  offered = (["daily", "websocket"] as ConnectionKind[]).filter((k) => listed.includes(k));
  if (!offered.includes("websocket")) offered.push("websocket");
  ui.connectionChoice.hidden = offered.length < 2;
  ui.connection.value = status?.transport === "daily" && offered.includes("daily") ? "daily" : "websocket";
  ui.connectionChoice.dataset.offered = offered.join(","); // answered (for tests)
}

/** The connection for the next interview. */
export function chosenConnection(): ConnectionKind {
  const picked = ui.connection.value as ConnectionKind;
  return offered.includes(picked) ? picked : "websocket";
}

/** Switch the next interview to the local WebSocket. */
export function useLocalConnection(): void {
  ui.connection.value = "websocket";
}

/** The one line a candidate needs when a Daily room cannot be joined. */
export function dailyUnreachable(detail: string): string {
  return (
    "Could not join the Daily room: Daily's call engine loads from Daily's servers (c.daily.co), " +
    `and this browser cannot reach them${detail ? ` (${detail})` : ""}. ` +
    "Use the local connection to hold the interview with this server directly."
  );
}
