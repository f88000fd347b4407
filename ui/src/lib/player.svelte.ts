// Plays a past call: its recording through an <audio> element when there is one that
// this webview can play, else a virtual clock that moves the playhead over the
// timeline at the chosen speed. Either way `current` is the position (ms), updated
// once per animation frame while playing.
import { VirtualClock } from './replay';

/** Why the timeline plays without sound. */
export type NoAudio =
  | { reason: 'no_recording' }
  | { reason: 'preparing' }
  /** The shell could not say where the recording is. */
  | { reason: 'lookup_failed'; detail: string }
  /** The webview could not load or play it (e.g. no GStreamer WAV support under WebKitGTK). */
  | { reason: 'failed'; detail: string };

const mediaErrors: Record<number, string> = {
  1: 'loading was aborted',
  2: 'network error',
  3: 'the audio could not be decoded',
  4: 'the audio format or its address is not supported here',
};

export class ReplayPlayer {
  current = $state(0);
  playing = $state(false);
  rate = $state(1);
  /** null while the recording plays; otherwise why it does not. */
  noAudio = $state<NoAudio | null>({ reason: 'no_recording' });
  readonly length: number;
  private clock: VirtualClock;
  private audio: HTMLAudioElement | null = null;
  private frame = 0;
  private detach: (() => void) | null = null;

  constructor(lengthMs: number) {
    this.length = lengthMs;
    this.clock = new VirtualClock(lengthMs);
  }

  private get usingAudio(): boolean { return this.audio !== null && this.noAudio === null; }

  /** Plays through `audio` (its src already set) until it fails. Returns a detach function. */
  attach(audio: HTMLAudioElement): () => void {
    this.detach?.();
    this.audio = audio;
    this.noAudio = null;
    audio.playbackRate = this.rate;
    audio.preservesPitch = true;
    const onError = () => {
      const err = audio.error;
      this.fallback(err ? `${mediaErrors[err.code] ?? `error ${err.code}`}${err.message ? `: ${err.message}` : ''}` : 'unknown error');
    };
    // The recording may end a little before the timeline does: stay where it ended.
    const onEnded = () => {
      if (!this.usingAudio) return;
      this.playing = false;
      cancelAnimationFrame(this.frame);
      this.current = Math.min(this.length, audio.currentTime * 1000);
    };
    const onPause = () => { if (this.usingAudio && !audio.seeking) { this.playing = false; this.current = audio.currentTime * 1000; } };
    const onSeeked = () => { if (this.usingAudio && !this.playing) this.current = audio.currentTime * 1000; };
    audio.addEventListener('error', onError);
    audio.addEventListener('ended', onEnded);
    audio.addEventListener('pause', onPause);
    audio.addEventListener('seeked', onSeeked);
    // It may have failed before we listened.
    if (audio.error) onError();
    const detach = () => {
      audio.removeEventListener('error', onError);
      audio.removeEventListener('ended', onEnded);
      audio.removeEventListener('pause', onPause);
      audio.removeEventListener('seeked', onSeeked);
      if (this.audio === audio) { audio.pause(); this.audio = null; }
      if (this.detach === detach) this.detach = null;
    };
    this.detach = detach;
    return detach;
  }

  /** The recording cannot be played here: go on with the virtual clock from where it was. */
  fallback(detail: string) {
    if (this.noAudio) return;
    const wasPlaying = this.playing;
    this.audio?.pause();
    this.noAudio = { reason: 'failed', detail };
    const now = performance.now();
    this.clock.setRate(this.rate, now);
    this.clock.seek(this.current, now);
    if (wasPlaying) { this.clock.play(now); this.loop(); }
  }

  /** No recording to play (or none could be found): the virtual clock plays. */
  withoutAudio(why: NoAudio) {
    this.detach?.();
    this.audio = null;
    this.noAudio = why;
  }

  play() {
    if (this.playing) return;
    if (this.current >= this.length) this.seek(0);
    this.playing = true;
    if (this.usingAudio && this.audio) {
      const audio = this.audio;
      audio.play().catch((e: unknown) => {
        const err = e as { name?: string; message?: string };
        // Paused again before it started: not a failure.
        if (err?.name === 'AbortError') return;
        this.fallback(err?.message || String(e));
      });
    } else {
      this.clock.play(performance.now());
    }
    this.loop();
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.frame);
    if (this.usingAudio && this.audio) {
      this.audio.pause();
      this.current = this.audio.currentTime * 1000;
    } else {
      this.clock.pause(performance.now());
      this.current = this.clock.position(performance.now());
    }
  }

  toggle() { if (this.playing) this.pause(); else this.play(); }

  seek(ms: number) {
    const to = Math.min(this.length, Math.max(0, Number.isFinite(ms) ? ms : 0));
    this.current = to;
    if (this.usingAudio && this.audio) this.audio.currentTime = to / 1000;
    this.clock.seek(to, performance.now());
  }

  setRate(rate: number) {
    if (!(rate > 0)) return;
    this.rate = rate;
    this.clock.setRate(rate, performance.now());
    if (this.audio) {
      this.audio.playbackRate = rate;
      this.audio.preservesPitch = true;
    }
  }

  destroy() {
    this.pause();
    cancelAnimationFrame(this.frame);
    this.detach?.();
  }

  private stop() {
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.current = this.length;
    this.clock.pause(performance.now());
    this.clock.seek(this.length, performance.now());
  }

  private loop() {
    cancelAnimationFrame(this.frame);
    const tick = () => {
      if (!this.playing) return;
      if (this.usingAudio && this.audio) {
        this.current = Math.min(this.length, this.audio.currentTime * 1000);
      } else {
        const now = performance.now();
        this.current = this.clock.position(now);
        if (this.clock.ended(now)) { this.stop(); return; }
      }
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }
}
