//! Token bytes → text deltas: only whole UTF-8 characters leave, and text that could
//! be the start of a stop sequence is held back until it is known not to be one.

/// Assembles a reply from token pieces. Concatenated, the deltas returned by
/// [`TextAssembler::push`] and [`TextAssembler::finish`] are the reply up to (not
/// including) the first stop sequence.
#[derive(Debug, Default)]
pub struct TextAssembler {
    /// Bytes of an incomplete UTF-8 character.
    partial: Vec<u8>,
    /// Decoded text not yet handed out (a possible stop-sequence prefix).
    held: String,
    stops: Vec<String>,
    stopped: bool,
}

/// The outcome of one [`TextAssembler::push`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Text that is certain to be part of the reply.
    pub delta: String,
    /// A stop sequence was found: the reply ends after `delta`.
    pub stop: bool,
}

impl TextAssembler {
    pub fn new(stops: Vec<String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            ..Self::default()
        }
    }

    pub fn push(&mut self, piece: &[u8]) -> Pushed {
        if self.stopped {
            return Pushed {
                delta: String::new(),
                stop: true,
            };
        }
        self.partial.extend_from_slice(piece);
        self.decode_partial(false);
        if let Some(at) = self.first_stop() {
            self.stopped = true;
            self.held.truncate(at);
            return Pushed {
                delta: std::mem::take(&mut self.held),
                stop: true,
            };
        }
        let keep = self.stop_prefix_len();
        let delta = self.held[..self.held.len() - keep].to_string();
        self.held.drain(..self.held.len() - keep);
        Pushed { delta, stop: false }
    }

    /// The rest of the reply when generation ends without a stop sequence.
    pub fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        self.decode_partial(true);
        std::mem::take(&mut self.held)
    }

    /// Moves complete characters from `partial` to `held`; invalid bytes become
    /// U+FFFD. With `flush`, an incomplete trailing character does too.
    fn decode_partial(&mut self, flush: bool) {
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.partial[start..]) {
                Ok(s) => {
                    self.held.push_str(s);
                    self.partial.clear();
                    return;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    // Checked valid just above.
                    self.held
                        .push_str(std::str::from_utf8(&self.partial[start..valid]).unwrap_or(""));
                    match e.error_len() {
                        Some(bad) => {
                            self.held.push('\u{FFFD}');
                            start = valid + bad;
                        }
                        None if flush => {
                            self.held.push('\u{FFFD}');
                            self.partial.clear();
                            return;
                        }
                        None => {
                            self.partial.drain(..valid);
                            return;
                        }
                    }
                }
            }
        }
    }

    fn first_stop(&self) -> Option<usize> {
        self.stops.iter().filter_map(|s| self.held.find(s)).min()
    }

    /// Length of the longest suffix of `held` that is a proper prefix of a stop
    /// sequence (on a character boundary).
    fn stop_prefix_len(&self) -> usize {
        let mut best = 0;
        for (i, _) in self.held.char_indices() {
            let tail = &self.held[i..];
            if self.stops.iter().any(|s| s.starts_with(tail)) {
                best = tail.len();
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (Vec<String>, bool) {
        let mut a = TextAssembler::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = Vec::new();
        for p in pieces {
            let r = a.push(p);
            out.push(r.delta);
            if r.stop {
                return (out, true);
            }
        }
        out.push(a.finish());
        (out, false)
    }

    #[test]
    fn passes_text_through_without_stops() {
        let (out, stop) = run(&[], &[b"Hello", b" world", b"!"]);
        assert_eq!(out, vec!["Hello", " world", "!", ""]);
        assert!(!stop);
    }

    #[test]
    fn waits_for_whole_utf8_characters() {
        let s = "مرحبا".as_bytes();
        let (out, _) = run(&[], &[&s[..3], &s[3..7], &s[7..]]);
        assert_eq!(out.concat(), "مرحبا");
        assert_eq!(out[0], "م");
        let (out, _) = run(&[], &[&"é".as_bytes()[..1]]);
        assert_eq!(out, vec!["", "\u{FFFD}"]);
        let (out, _) = run(&[], &[b"a\xffb"]);
        assert_eq!(out.concat(), "a\u{FFFD}b");
    }

    #[test]
    fn stops_before_a_stop_sequence_split_over_tokens() {
        let (out, stop) = run(&["\nCustomer:"], &[b"Sure.", b"\nCust", b"omer:", b" hi"]);
        assert!(stop);
        assert_eq!(out, vec!["Sure.", "", ""]);
    }

    #[test]
    fn releases_held_text_that_is_not_a_stop() {
        let (out, stop) = run(&["END"], &[b"The E", b"ND", b"x"]);
        assert!(stop);
        assert_eq!(out.concat(), "The ");
        let (out, stop) = run(&["END"], &[b"The E", b"arth", b" is round"]);
        assert!(!stop);
        assert_eq!(out, vec!["The ", "Earth", " is round", ""]);
        let (out, _) = run(&["END"], &[b"It ends with E"]);
        assert_eq!(out, vec!["It ends with ", "E"]);
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let (out, stop) = run(&["bb", "a"], &[b"xxbba"]);
        assert!(stop);
        assert_eq!(out, vec!["xx"]);
    }
}
