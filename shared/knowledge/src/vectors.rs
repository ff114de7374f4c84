//! An index's vectors: one unit vector per entry, by the index's embedding model, kept as a
//! packed matrix and searched by brute force (a dot product per row: well under a
//! millisecond per thousand passages, fine to about 100,000 a project; past that an ANN
//! index would go behind the same call).
//!
//! File: `CAV1`, the count and the length (u32 LE), each entry's id (u32 LE length, UTF-8),
//! then the rows (f32 LE).

use crate::IndexError;

const MAGIC: &[u8; 4] = b"CAV1";

/// The vectors of an index, in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vectors {
    ids: Vec<String>,
    dimensions: usize,
    rows: Vec<f32>,
}

/// The file's bytes for `entries`, each an id and its vector (all of one length).
pub fn encode(entries: &[(String, Vec<f32>)]) -> Vec<u8> {
    let dimensions = entries.first().map_or(0, |(_, v)| v.len());
    let mut out = Vec::with_capacity(12 + entries.len() * (40 + dimensions * 4));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&(dimensions as u32).to_le_bytes());
    for (id, _) in entries {
        out.extend_from_slice(&(id.len() as u32).to_le_bytes());
        out.extend_from_slice(id.as_bytes());
    }
    for (_, vector) in entries {
        for x in vector {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

impl Vectors {
    /// Reads the file's `bytes`; a file that does not read is refused, never half-used.
    pub fn decode(bytes: &[u8]) -> Result<Self, IndexError> {
        let bad = |why: &str| IndexError::NotASnapshot(format!("vectors: {why}"));
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], IndexError> {
            let slice = bytes.get(at..at.checked_add(n).ok_or_else(|| bad("too long"))?);
            at += n;
            slice.ok_or_else(|| bad("truncated"))
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if take(4)? != MAGIC {
            return Err(bad("not a vectors file"));
        }
        let count = u32_at(take(4)?);
        let dimensions = u32_at(take(4)?);
        let mut ids = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let length = u32_at(take(4)?);
            let id = std::str::from_utf8(take(length)?).map_err(|_| bad("an id is not UTF-8"))?;
            ids.push(id.to_owned());
        }
        let floats = count
            .checked_mul(dimensions)
            .ok_or_else(|| bad("too large"))?;
        let raw = take(floats.checked_mul(4).ok_or_else(|| bad("too large"))?)?;
        let rows = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Self {
            ids,
            dimensions,
            rows,
        })
    }

    /// The ids of the `size` rows nearest `query` (a unit vector of the same length), best
    /// first, with their cosine similarity; none when the lengths differ.
    pub fn nearest(&self, query: &[f32], size: usize) -> Vec<(&str, f32)> {
        if query.len() != self.dimensions || self.dimensions == 0 || size == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(usize, f32)> = self
            .rows
            .chunks_exact(self.dimensions)
            .map(|row| row.iter().zip(query).map(|(a, b)| a * b).sum::<f32>())
            .enumerate()
            .collect();
        let size = size.min(scored.len());
        if size < scored.len() {
            scored.select_nth_unstable_by(size, |a, b| b.1.total_cmp(&a.1));
            scored.truncate(size);
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
            .into_iter()
            .map(|(row, score)| (self.ids[row].as_str(), score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_the_nearest_come_first() {
        let entries = vec![
            ("a".to_owned(), vec![1.0, 0.0]),
            ("b".to_owned(), vec![0.0, 1.0]),
            ("c".to_owned(), vec![0.6, 0.8]),
        ];
        let vectors = Vectors::decode(&encode(&entries)).unwrap();
        let nearest = vectors.nearest(&[0.0, 1.0], 2);
        assert_eq!(
            nearest.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(
            vectors.nearest(&[1.0, 0.0, 0.0], 2).is_empty(),
            "another length"
        );
        assert!(Vectors::decode(b"CAV1\x05\x00\x00\x00").is_err());
        assert!(Vectors::decode(b"nope").is_err());
    }
}
