/**
 * The interviewer's face: an inline SVG, animated.
 *
 * Expressions: idle | listening | thinking | speaking.  Emotions: neutral |
 * encouraging | concerned.  The mouth follows the bot audio level as it plays.
 * The current expression and emotion are mirrored in data-expression / data-emotion
 * on the root element, and every expression entered is appended to
 * window.__avatarHistory (for tests); window.__avatar is the face itself.
 * `onDraw` draws more of the page on the face's frames (the microphone meter).
 * The thinking dots pulse on the face's frames too: a CSS animation would run at the display's rate.
 *
 * It draws at BUSY_FPS while something moves quickly (speech, a blink, a change of face)
 * and at REST_FPS otherwise (breathing, drifting gaze), not at the display's rate: the page
 * often shares its machine with the interviewer's own models.
 */

export type Expression = "idle" | "listening" | "thinking" | "speaking";
export type Emotion = "neutral" | "encouraging" | "concerned";

export const EXPRESSIONS: readonly Expression[] = ["idle", "listening", "thinking", "speaking"];
export const EMOTIONS: readonly Emotion[] = ["neutral", "encouraging", "concerned"];

declare global {
  interface Window {
    __avatarHistory: string[];
    __avatar?: Avatar;
  }
}

/** Frames a second while something moves quickly: speech (its level comes every 33 ms), a blink, a change of face. */
export const BUSY_FPS = 30;
/** Frames a second at rest: breathing and a drifting gaze move a fraction of a pixel a frame. */
export const REST_FPS = 15;
/** How long a change of expression or emotion draws at BUSY_FPS: four of its easings' longest time constant. */
const SETTLE_MS = 1600;
/**
 * A frame waits on a timer, then on the display's next tick (requestAnimationFrame), so the
 * page is not woken on every tick to skip most of them. The timer ends this much early, so
 * the tick due at the frame's time is not missed.
 */
const TICK_SLACK_MS = 5;
/** One pulse of the thinking dots (faint, bright, faint), and how much later each dot pulses. */
const DOT_PULSE_S = 1.2;
const DOT_DELAY_S = 0.2;
/** The faintest a shown dot gets, at the bottom of its pulse. */
const DOT_LOW = 0.25;

const SVG_NS = "http://www.w3.org/2000/svg";

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  parent?: Element,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** Move `current` toward `target` with a time constant of `tau` seconds. */
function approach(current: number, target: number, dt: number, tau: number): number {
  return current + (target - current) * (1 - Math.exp(-dt / tau));
}

export class Avatar {
  readonly root: HTMLElement;
  expression: Expression = "idle";
  emotion: Emotion = "neutral";
  /**
   * Called on each of the face's frames: the page draws its other moving parts here, so they
   * cost no frames of their own.
   */
  onDraw: ((now: number) => void) | null = null;

  private svg: SVGSVGElement;
  private body: SVGGElement;
  private head: SVGGElement;
  private eyes: { white: SVGEllipseElement; pupil: SVGCircleElement; lid: SVGPathElement; cx: number }[] = [];
  private brows: { path: SVGPathElement; cx: number; side: -1 | 1 }[] = [];
  private mouth: SVGPathElement;
  private mouthInner: SVGPathElement;
  private cheeks: SVGEllipseElement[] = [];
  private dots: SVGGElement;
  private dotEls: SVGCircleElement[] = [];
  /** The opacity last written to each dot and to their group: a still one is not written again. */
  private drawn = new Map<Element, string>();

  // Animated values (smoothed toward targets each frame).
  private level = 0; // bot audio level, 0..1, raw
  private mouthOpen = 0;
  private smile = 0;
  private eyeOpen = 1;
  private gazeX = 0;
  private gazeY = 0;
  private lean = 0;
  private browLift = 0;
  private browKnit = 0;
  private dotsShown = 0; // the thinking dots: 0 hidden, 1 shown
  private blink = 0; // 0 open, 1 closed
  private nextBlink = 0;
  private blinkStart = -1;
  private last = 0;
  private settleUntil = 0;
  private raf = 0;
  private timer = 0;
  private reducedMotion = false;

  constructor(root: HTMLElement) {
    this.root = root;
    window.__avatarHistory = window.__avatarHistory ?? [];
    this.reducedMotion = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;

    this.svg = el("svg", {
      viewBox: "0 0 200 220",
      role: "img",
      "aria-labelledby": "avatar-title",
      class: "avatar-svg",
    });
    const title = el("title", { id: "avatar-title" }, this.svg);
    title.textContent = "Interviewer";

    // Shoulders and body (static), head group (moves).
    this.body = el("g", { class: "av-body" }, this.svg);
    el("path", { d: "M30 220 C34 178 64 164 100 164 C136 164 166 178 170 220 Z", class: "av-shirt" }, this.body);
    el("path", { d: "M86 166 L100 188 L114 166 Z", class: "av-collar" }, this.body);
    el("rect", { x: 89, y: 146, width: 22, height: 24, rx: 8, class: "av-skin" }, this.body);

    this.head = el("g", { class: "av-head" }, this.svg);
    el("ellipse", { cx: 100, cy: 92, rx: 58, ry: 66, class: "av-skin av-face" }, this.head);
    el("ellipse", { cx: 43, cy: 98, rx: 8, ry: 13, class: "av-skin" }, this.head);
    el("ellipse", { cx: 157, cy: 98, rx: 8, ry: 13, class: "av-skin" }, this.head);
    el(
      "path",
      { d: "M42 88 C36 40 70 18 104 22 C140 24 166 46 158 90 C150 66 132 52 104 50 C78 50 54 60 42 88 Z", class: "av-hair" },
      this.head,
    );

    for (const [cx, side] of [[76, -1], [124, 1]] as const) {
      const white = el("ellipse", { cx, cy: 96, rx: 12, ry: 9, class: "av-eye" }, this.head);
      const pupil = el("circle", { cx, cy: 96, r: 5, class: "av-pupil" }, this.head);
      const lid = el("path", { d: "", class: "av-lid av-skin" }, this.head);
      this.eyes.push({ white, pupil, lid, cx });
      const path = el("path", { d: "", class: "av-brow" }, this.head);
      this.brows.push({ path, cx, side });
    }
    for (const cx of [66, 134]) {
      this.cheeks.push(el("ellipse", { cx, cy: 122, rx: 10, ry: 6, class: "av-cheek" }, this.head));
    }
    el("path", { d: "M100 100 C96 112 94 118 100 121", class: "av-nose" }, this.head);
    this.mouthInner = el("path", { d: "", class: "av-mouth-inner" }, this.head);
    this.mouth = el("path", { d: "", class: "av-mouth" }, this.head);

    this.dots = el("g", { class: "av-dots", "aria-hidden": "true", opacity: 0 }, this.svg);
    for (const [i, [cx, cy, r]] of [[150, 30, 4], [162, 18, 5.5], [178, 6, 7]].entries()) {
      this.dotEls.push(el("circle", { cx, cy, r, class: `av-dot av-dot-${i}` }, this.dots));
    }

    root.appendChild(this.svg);
    window.__avatar = this;
    this.setExpression("idle");
    this.setEmotion("neutral");
    this.scheduleBlink(performance.now());
    this.raf = requestAnimationFrame(this.frame);
  }

  setExpression(expression: Expression) {
    if (!EXPRESSIONS.includes(expression)) return;
    const changed = expression !== this.expression || window.__avatarHistory.length === 0;
    this.expression = expression;
    this.root.dataset.expression = expression;
    if (changed) {
      window.__avatarHistory.push(expression);
      this.settleUntil = performance.now() + SETTLE_MS;
      if (this.raf) this.wake();
    }
  }

  setEmotion(emotion: Emotion) {
    if (!EMOTIONS.includes(emotion)) return;
    const changed = emotion !== this.emotion;
    this.emotion = emotion;
    this.root.dataset.emotion = emotion;
    if (changed) {
      this.settleUntil = performance.now() + SETTLE_MS;
      if (this.raf) this.wake();
    }
  }

  /** Bot audio level as it plays (0..1). */
  setLevel(level: number) {
    this.level = Number.isFinite(level) ? Math.max(0, Math.min(1, level)) : 0;
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    window.clearTimeout(this.timer);
    this.raf = 0; // a later change of face does not wake it
  }

  private scheduleBlink(now: number) {
    this.nextBlink = now + 1800 + Math.random() * 3800;
  }

  /** Whether something moves quickly now, so frames come at BUSY_FPS. */
  private busy(now: number): boolean {
    return this.expression === "speaking" || this.blinkStart >= 0 || now >= this.nextBlink || now < this.settleUntil;
  }

  /** Draw at the display's next tick, not when the frame at rest would be due. */
  private wake() {
    window.clearTimeout(this.timer);
    cancelAnimationFrame(this.raf);
    this.raf = requestAnimationFrame(this.frame);
  }

  private frame = (now: number) => {
    const interval = 1000 / (this.busy(now) ? BUSY_FPS : REST_FPS);
    if (now - this.last >= interval - TICK_SLACK_MS) this.draw(now);
    const due = this.last + interval - TICK_SLACK_MS;
    this.timer = window.setTimeout(() => {
      this.raf = requestAnimationFrame(this.frame);
    }, Math.max(0, due - performance.now()));
  };

  private draw(now: number) {
    this.onDraw?.(now);
    const dt = this.last ? Math.min(0.1, (now - this.last) / 1000) : 0.016;
    this.last = now;
    const t = now / 1000;
    const ex = this.expression;
    const em = this.emotion;

    // Targets for this expression and emotion.
    const speaking = ex === "speaking";
    const listening = ex === "listening";
    const thinking = ex === "thinking";
    const targetOpen = speaking ? Math.min(1, Math.pow(this.level, 0.7) * 1.6) : 0;
    let targetSmile = em === "encouraging" ? 1 : em === "concerned" ? -0.7 : 0.15;
    if (listening && em === "neutral") targetSmile = 0.3;
    const targetEye = listening ? 1.22 : thinking ? 0.82 : 1;
    const targetGazeX = thinking ? -5 + Math.sin(t * 0.7) * 1.2 : listening ? 0 : Math.sin(t * 0.33) * 1.5;
    const targetGazeY = thinking ? -5 : listening ? 0.5 : 0;
    const targetLean = listening ? 1 : thinking ? -0.4 : 0;
    const targetBrowLift = listening ? 3 : thinking ? 4 : em === "encouraging" ? 2 : 0;
    const targetKnit = em === "concerned" ? 1 : thinking ? 0.5 : 0;

    // Mouth reacts fast to open, a little slower to close (reads as speech).
    this.mouthOpen = approach(this.mouthOpen, targetOpen, dt, targetOpen > this.mouthOpen ? 0.03 : 0.07);
    this.smile = approach(this.smile, targetSmile, dt, 0.25);
    this.eyeOpen = approach(this.eyeOpen, targetEye, dt, 0.18);
    this.gazeX = approach(this.gazeX, targetGazeX, dt, 0.25);
    this.gazeY = approach(this.gazeY, targetGazeY, dt, 0.25);
    this.lean = approach(this.lean, targetLean, dt, 0.4);
    this.browLift = approach(this.browLift, targetBrowLift, dt, 0.2);
    this.browKnit = approach(this.browKnit, targetKnit, dt, 0.3);
    this.dotsShown = approach(this.dotsShown, thinking ? 1 : 0, dt, 0.08);

    // Blinking: a 160 ms close-open every few seconds (less while listening intently).
    if (this.blinkStart < 0 && now >= this.nextBlink) this.blinkStart = now;
    if (this.blinkStart >= 0) {
      const p = (now - this.blinkStart) / 160;
      this.blink = p < 0.5 ? p * 2 : Math.max(0, 2 - p * 2);
      if (p >= 1) {
        this.blink = 0;
        this.blinkStart = -1;
        this.scheduleBlink(now);
      }
    }

    const motion = this.reducedMotion ? 0.2 : 1;
    // Breathing: slow rise of head and shoulders; lean toward the candidate when listening.
    const breath = Math.sin(t * 2 * Math.PI * 0.22) * motion;
    const sway = Math.sin(t * 0.5) * 0.8 * motion;
    const nod = speaking ? Math.sin(t * 5.3) * this.mouthOpen * 1.5 * motion : 0;
    this.body.setAttribute("transform", `translate(0 ${(-breath * 1.2).toFixed(2)})`);
    const rot = sway + this.lean * 4 + (thinking ? -3 : 0);
    const scale = 1 + this.lean * 0.035;
    this.head.setAttribute(
      "transform",
      `translate(${(this.lean * 2).toFixed(2)} ${(-breath * 2 + nod + this.lean * 3).toFixed(2)}) ` +
        `rotate(${rot.toFixed(2)} 100 150) translate(100 92) scale(${scale.toFixed(3)}) translate(-100 -92)`,
    );

    // Eyes.
    const ry = 9 * this.eyeOpen;
    for (const eye of this.eyes) {
      eye.white.setAttribute("ry", ry.toFixed(2));
      eye.pupil.setAttribute("cx", (eye.cx + this.gazeX).toFixed(2));
      eye.pupil.setAttribute("cy", (96 + this.gazeY).toFixed(2));
      eye.pupil.setAttribute("r", (listening ? 5.6 : 5).toString());
      // Upper lid: covers the eye from the top; `cover` 0..1.
      const cover = Math.max(this.blink, 0.08 + (1.22 - this.eyeOpen) * 0.35);
      const top = 96 - ry - 2;
      const edge = top + (2 * ry + 2) * cover;
      eye.lid.setAttribute(
        "d",
        `M${eye.cx - 14} ${top} L${eye.cx + 14} ${top} L${eye.cx + 14} ${edge.toFixed(2)} ` +
          `Q${eye.cx} ${(edge + 3 * (1 - cover)).toFixed(2)} ${eye.cx - 14} ${edge.toFixed(2)} Z`,
      );
    }

    // Brows: lifted when attentive/thinking, inner ends up and knit when concerned.
    for (const b of this.brows) {
      const y = 78 - this.browLift;
      const inner = b.cx - b.side * 11;
      const outer = b.cx + b.side * 12;
      const innerY = y - this.browKnit * 4;
      const outerY = y + this.browKnit * 1.5 + (this.smile > 0.5 ? -1 : 0);
      b.path.setAttribute(
        "d",
        `M${inner} ${innerY.toFixed(2)} Q${b.cx} ${(Math.min(innerY, outerY) - 4).toFixed(2)} ${outer} ${outerY.toFixed(2)}`,
      );
    }

    // Mouth: width, curve (smile) and opening from the audio level.
    const open = this.mouthOpen * 14;
    const half = 17 + this.smile * 3 - this.mouthOpen * 3;
    const y0 = 134;
    const curve = this.smile * 7;
    const cornerY = y0 - curve * 0.6;
    const topY = y0 + curve * 0.3 - open * 0.25;
    const botY = y0 + curve + open;
    const d =
      `M${100 - half} ${cornerY.toFixed(2)} ` +
      `Q100 ${topY.toFixed(2)} ${100 + half} ${cornerY.toFixed(2)} ` +
      `Q100 ${botY.toFixed(2)} ${100 - half} ${cornerY.toFixed(2)} Z`;
    this.mouth.setAttribute("d", d);
    this.mouthInner.setAttribute("d", d);
    this.mouthInner.setAttribute("opacity", Math.min(1, this.mouthOpen * 3).toFixed(2));
    for (const c of this.cheeks) c.setAttribute("opacity", Math.max(0, this.smile * 0.55).toFixed(2));

    // Thinking dots: fade in, pulse one after another; hidden ones are not drawn.
    const shown = this.dotsShown < 0.01 ? 0 : this.dotsShown > 0.99 ? 1 : this.dotsShown;
    this.write(this.dots, shown.toFixed(2));
    if (shown === 0) return;
    this.dotEls.forEach((dot, i) => {
      const phase = (2 * Math.PI * (t - i * DOT_DELAY_S)) / DOT_PULSE_S;
      const pulse = this.reducedMotion ? 1 : DOT_LOW + (1 - DOT_LOW) * (0.5 - 0.5 * Math.cos(phase));
      this.write(dot, pulse.toFixed(2));
    });
  }

  /** Set `node`'s opacity attribute unless it already has this value. */
  private write(node: Element, opacity: string) {
    if (this.drawn.get(node) === opacity) return;
    this.drawn.set(node, opacity);
    node.setAttribute("opacity", opacity);
  }
}
