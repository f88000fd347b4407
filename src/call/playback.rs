//! The agent's outgoing audio for one utterance: a queue of frames tagged with the
//! sentence they belong to, so that on barge-in we know exactly which words the
//! customer heard.

use std::collections::VecDeque;

use crate::audio::{Frame, FRAME_SAMPLES};
use crate::events::Speaker;

struct Sentence {
    text: String,
    frames_total: u32,
    frames_played: u32,
    /// All of its audio has arrived.
    complete: bool,
}

pub(super) struct Playback {
    queue: VecDeque<(Frame, u16)>,
    carry: [i16; FRAME_SAMPLES],
    carry_len: usize,
    sentences: Vec<Sentence>,
    pub turn: u32,
    pub speaker: Speaker,
    /// An utterance is being played (possibly waiting for more audio).
    pub active: bool,
    /// Index of the last sentence whose first frame has been played.
    announced: Option<usize>,
}

/// What happened when a frame was taken for playing.
pub(super) struct Played {
    pub frame: Frame,
    /// The frame starts a sentence not heard before: the transcript can grow.
    pub new_sentence: bool,
}

impl Playback {
    pub fn new() -> Self {
        Self {
            queue: VecDeque::with_capacity(256),
            carry: [0; FRAME_SAMPLES],
            carry_len: 0,
            sentences: Vec::new(),
            turn: 0,
            speaker: Speaker::Agent,
            active: false,
            announced: None,
        }
    }

    /// Starts a new utterance, discarding whatever was left of the previous one.
    pub fn begin(&mut self, turn: u32, speaker: Speaker) {
        self.clear();
        self.turn = turn;
        self.speaker = speaker;
        self.active = true;
    }

    pub fn clear(&mut self) {
        self.queue.clear();
        self.carry_len = 0;
        self.sentences.clear();
        self.active = false;
        self.announced = None;
    }

    pub fn add_sentence(&mut self, idx: usize, text: &str) {
        while self.sentences.len() <= idx {
            self.sentences.push(Sentence {
                text: String::new(),
                frames_total: 0,
                frames_played: 0,
                complete: false,
            });
        }
        self.sentences[idx].text = text.to_string();
    }

    pub fn push_audio(&mut self, idx: usize, mut samples: &[i16]) {
        if idx >= self.sentences.len() {
            self.add_sentence(idx, "");
        }
        while !samples.is_empty() {
            let n = (FRAME_SAMPLES - self.carry_len).min(samples.len());
            self.carry[self.carry_len..self.carry_len + n].copy_from_slice(&samples[..n]);
            self.carry_len += n;
            samples = &samples[n..];
            if self.carry_len == FRAME_SAMPLES {
                self.enqueue(idx);
            }
        }
    }

    /// All audio of sentence `idx` has arrived: pad out its last frame.
    pub fn end_sentence(&mut self, idx: usize) {
        if idx >= self.sentences.len() {
            self.add_sentence(idx, "");
        }
        if self.carry_len > 0 {
            self.carry[self.carry_len..].fill(0);
            self.enqueue(idx);
        }
        self.sentences[idx].complete = true;
    }

    fn enqueue(&mut self, idx: usize) {
        self.queue.push_back((
            Frame {
                samples: self.carry,
            },
            idx as u16,
        ));
        self.sentences[idx].frames_total += 1;
        self.carry_len = 0;
    }

    pub fn has_frames(&self) -> bool {
        !self.queue.is_empty()
    }

    pub fn next_frame(&mut self) -> Option<Played> {
        let (frame, idx) = self.queue.pop_front()?;
        let idx = idx as usize;
        self.sentences[idx].frames_played += 1;
        let new_sentence = self.announced.is_none_or(|a| idx > a);
        if new_sentence {
            self.announced = Some(idx);
        }
        Some(Played {
            frame,
            new_sentence,
        })
    }

    /// Text of every sentence that has started playing.
    pub fn spoken_so_far(&self) -> String {
        match self.announced {
            None => String::new(),
            Some(a) => join(self.sentences[..=a].iter().map(|s| s.text.as_str())),
        }
    }

    /// Splits the utterance into what the customer heard and what they did not,
    /// estimating the cut inside a sentence from the share of its audio played.
    pub fn heard_and_dropped(&self) -> (String, String) {
        let mut heard: Vec<String> = Vec::new();
        let mut dropped: Vec<String> = Vec::new();
        let mut cut = false;
        for s in &self.sentences {
            if cut || s.frames_played == 0 {
                cut = true;
                if !s.text.is_empty() {
                    dropped.push(s.text.clone());
                }
                continue;
            }
            if s.complete && s.frames_played >= s.frames_total {
                heard.push(s.text.clone());
                continue;
            }
            cut = true;
            let words: Vec<&str> = s.text.split_whitespace().collect();
            let share = s.frames_played as f32 / s.frames_total.max(1) as f32;
            let n = ((words.len() as f32) * share).floor() as usize;
            let n = n.min(words.len());
            if n > 0 {
                heard.push(words[..n].join(" "));
            }
            if n < words.len() {
                dropped.push(words[n..].join(" "));
            }
        }
        (
            join(heard.iter().map(String::as_str)),
            join(dropped.iter().map(String::as_str)),
        )
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for p in parts.filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(frames: usize) -> Vec<i16> {
        vec![1000; frames * FRAME_SAMPLES]
    }

    #[test]
    fn heard_text_stops_where_playback_stopped() {
        let mut p = Playback::new();
        p.begin(1, Speaker::Agent);
        p.add_sentence(0, "Hello Rana.");
        p.push_audio(0, &audio(10));
        p.end_sentence(0);
        p.add_sentence(1, "Your order ships tomorrow morning from Dubai.");
        p.push_audio(1, &audio(20));
        p.end_sentence(1);
        let first = p.next_frame().unwrap();
        assert!(first.new_sentence);
        for _ in 0..9 {
            assert!(!p.next_frame().unwrap().new_sentence);
        }
        assert_eq!(p.spoken_so_far(), "Hello Rana.");
        assert!(p.next_frame().unwrap().new_sentence);
        for _ in 0..9 {
            p.next_frame();
        }
        // Half of the second sentence played.
        let (heard, dropped) = p.heard_and_dropped();
        // 7 words, half their audio played: the first 3 were heard in full.
        assert_eq!(heard, "Hello Rana. Your order ships");
        assert_eq!(dropped, "tomorrow morning from Dubai.");
    }

    #[test]
    fn arabic_cut_and_nothing_played() {
        let mut p = Playback::new();
        p.begin(2, Speaker::Agent);
        p.add_sentence(0, "أهلا، معك سارة من المبيعات.");
        p.push_audio(0, &audio(8));
        let (heard, dropped) = p.heard_and_dropped();
        assert_eq!(heard, "");
        assert_eq!(dropped, "أهلا، معك سارة من المبيعات.");
        for _ in 0..4 {
            p.next_frame();
        }
        let (heard, dropped) = p.heard_and_dropped();
        assert_eq!(heard, "أهلا، معك");
        assert_eq!(dropped, "سارة من المبيعات.");
    }

    #[test]
    fn partial_frames_are_padded_at_sentence_end() {
        let mut p = Playback::new();
        p.begin(1, Speaker::Agent);
        p.push_audio(0, &vec![5; FRAME_SAMPLES + 10]);
        p.end_sentence(0);
        assert!(p.next_frame().is_some());
        let last = p.next_frame().unwrap().frame;
        assert_eq!(last.samples[9], 5);
        assert_eq!(last.samples[10], 0);
        assert!(p.next_frame().is_none());
    }
}
