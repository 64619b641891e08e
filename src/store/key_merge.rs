//! Merging contacts read key by key (each key's rows in position order) into one list in position
//! order, reading each key a page at a time: a claim in the recipient basis asks only for the zone
//! keys open now, and reads about as many rows as it takes however many other keys wait.

use std::collections::VecDeque;

/// One key's rows read so far and not yet taken.
struct Lane<T> {
    rows: VecDeque<T>,
    /// The position of the last row read (pages go on after it).
    after: i64,
    /// Whether the key has no more rows.
    done: bool,
}

/// A merge in progress of `keys` lanes into at most `limit` rows.
pub struct KeyMerge<T> {
    lanes: Vec<Lane<T>>,
    taken: Vec<T>,
    limit: usize,
    position: fn(&T) -> i64,
}

impl<T> KeyMerge<T> {
    pub fn new(keys: usize, limit: usize, position: fn(&T) -> i64) -> Self {
        let lanes = (0..keys).map(|_| Lane { rows: VecDeque::new(), after: i64::MIN, done: false }).collect();
        Self { lanes, taken: Vec::new(), limit, position }
    }

    /// Takes rows in position order as far as the rows read allow, then says which keys must be read
    /// next (each with the position to read after); empty once the merge is complete.
    pub fn wanted(&mut self) -> Vec<(usize, i64)> {
        while self.taken.len() < self.limit {
            let starved: Vec<(usize, i64)> = self
                .lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| l.rows.is_empty() && !l.done)
                .map(|(i, l)| (i, l.after))
                .collect();
            if !starved.is_empty() {
                return starved;
            }
            let position = self.position;
            let next =
                self.lanes.iter().enumerate().filter_map(|(i, l)| l.rows.front().map(|r| (position(r), i))).min();
            let Some((_, lane)) = next else { break };
            self.taken.extend(self.lanes[lane].rows.pop_front());
        }
        Vec::new()
    }

    /// Adds a page read for `lane` (of at most `page` rows, in position order).
    pub fn add(&mut self, lane: usize, rows: Vec<T>, page: usize) {
        let l = &mut self.lanes[lane];
        l.done = rows.len() < page;
        if let Some(last) = rows.last() {
            l.after = (self.position)(last);
        }
        l.rows.extend(rows);
    }

    /// The rows taken, in position order.
    pub fn finish(self) -> Vec<T> {
        self.taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merges `lanes` (sorted positions) reading `page` rows at a time; returns the rows and the
    /// number of rows read.
    fn merge(lanes: &[Vec<i64>], limit: usize, page: usize) -> (Vec<i64>, usize) {
        let mut m = KeyMerge::new(lanes.len(), limit, |p: &i64| *p);
        let mut read = 0;
        loop {
            let wanted = m.wanted();
            if wanted.is_empty() {
                return (m.finish(), read);
            }
            for (lane, after) in wanted {
                let rows: Vec<i64> = lanes[lane].iter().copied().filter(|p| *p > after).take(page).collect();
                read += rows.len();
                m.add(lane, rows, page);
            }
        }
    }

    #[test]
    fn rows_come_out_in_position_order_up_to_the_limit() {
        let lanes = vec![vec![1, 4, 5, 9], vec![2, 3, 10], vec![], vec![6, 7, 8]];
        for page in 1..6 {
            assert_eq!(merge(&lanes, 100, page).0, (1..=10).collect::<Vec<_>>(), "page {page}");
            assert_eq!(merge(&lanes, 6, page).0, (1..=6).collect::<Vec<_>>(), "page {page}");
        }
        assert_eq!(merge(&[], 5, 3).0, Vec::<i64>::new());
    }

    #[test]
    fn reads_about_what_it_takes_not_every_waiting_row() {
        // 50 keys, 1000 rows each, interleaved: taking 100 reads about 100 plus a page per key.
        let lanes: Vec<Vec<i64>> = (0..50).map(|k| (0..1000).map(|i| i * 50 + k).collect()).collect();
        let (rows, read) = merge(&lanes, 100, 4);
        assert_eq!(rows, (0..100).collect::<Vec<_>>());
        assert!(read <= 100 + 50 * 4, "{read}");
    }
}
