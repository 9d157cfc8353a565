/**
 * The live transcript: one line per turn, interim candidate words until the final text,
 * interviewer text from bot-output segments. Every text reaches the page through textContent.
 */
import type { BotOutputData, TranscriptData } from "@pipecat-ai/client-js";
import { hooks, type Role, type TranscriptEntry } from "./hooks";
import { ui } from "./ui";

interface Line {
  entry: TranscriptEntry;
  li: HTMLLIElement;
  textEl: HTMLSpanElement;
  interimEl: HTMLSpanElement;
  open: boolean;
  segments: Map<string, string>;
}

export class Transcript {
  private lines: Line[] = [];
  private botLineNeeded = true;
  private segmentCounter = 0;

  /** Empty it for a new session. */
  clear() {
    ui.transcript.replaceChildren();
    this.lines.length = 0;
    hooks.transcript.length = 0;
    this.botLineNeeded = true;
  }

  /** The interviewer started a new reply: its text goes on a new line. */
  newBotLine() {
    this.botLineNeeded = true;
  }

  private addLine(role: Role): Line {
    for (const l of this.lines) l.open = false;
    const entry: TranscriptEntry = { role, text: "" };
    hooks.transcript.push(entry);
    const li = document.createElement("li");
    li.className = role;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "candidate" ? "You" : "Interviewer";
    const textEl = document.createElement("span");
    textEl.className = "text";
    const interimEl = document.createElement("span");
    interimEl.className = "interim";
    li.append(who, textEl, interimEl);
    ui.transcript.appendChild(li);
    const line: Line = { entry, li, textEl, interimEl, open: true, segments: new Map() };
    this.lines.push(line);
    return line;
  }

  private scroll() {
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  private openLine(role: Role): Line {
    const last = this.lines[this.lines.length - 1];
    if (last && last.open && last.entry.role === role) return last;
    return this.addLine(role);
  }

  /** A candidate transcript (interim words in italics until the final text). */
  onUserTranscript(data: TranscriptData) {
    const text = typeof data?.text === "string" ? data.text.trim() : "";
    const line = this.openLine("candidate");
    if (data.final) {
      if (text) line.entry.text = `${line.entry.text} ${text}`.trim();
      line.entry.interim = undefined;
      line.textEl.textContent = line.entry.text;
      line.interimEl.textContent = "";
    } else {
      line.entry.interim = text;
      line.interimEl.textContent = text ? (line.entry.text ? ` ${text}` : text) : "";
    }
    if (!line.entry.text && !line.entry.interim) {
      // Nothing to show (an empty final): drop the empty line again.
      line.li.remove();
      this.lines.splice(this.lines.indexOf(line), 1);
      hooks.transcript.splice(hooks.transcript.indexOf(line.entry), 1);
      return;
    }
    this.scroll();
  }

  /**
   * The server decoded a candidate turn again as a whole: the candidate line that ends with
   * the words heard live (`live`) ends with the better words (`text`) instead.
   */
  onFinalWords(live: string, text: string) {
    const norm = (t: string) => t.replace(/\s+/g, " ").trim();
    const was = norm(live);
    if (!was) return;
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const line = this.lines[i];
      const said = norm(line.entry.text);
      if (line.entry.role !== "candidate" || !said.endsWith(was)) continue;
      line.entry.text = `${said.slice(0, said.length - was.length).trim()} ${norm(text)}`.trim();
      line.textEl.textContent = line.entry.text;
      return;
    }
  }

  /** A piece of what the interviewer said (bot-output), joined per segment. */
  onBotOutput(data: BotOutputData) {
    if (!data || typeof data.text !== "string") return;
    const last = this.lines[this.lines.length - 1];
    const line = this.botLineNeeded || !last || last.entry.role !== "interviewer" ? this.addLine("interviewer") : last;
    this.botLineNeeded = false;
    const key = data.segment_id !== undefined && data.segment_id !== null ? String(data.segment_id) : `n${this.segmentCounter++}`;
    let text = data.text;
    if (data.spoken_status === "in-progress") {
      // Word-level progress of a segment we have (or will have) in full.
      if (line.segments.has(key)) return;
      const p = data.spoken_progress;
      if (p) text = `${p.accumulated_text ?? ""} ${p.remaining_text ?? ""}`;
    }
    line.segments.set(key, text.replace(/\s+/g, " ").trim());
    line.entry.text = [...line.segments.values()].filter(Boolean).join(" ");
    line.textEl.textContent = line.entry.text;
    this.scroll();
  }
}
