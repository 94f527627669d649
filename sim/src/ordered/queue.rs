//! The event queue of the time-ordered run: a bucket per day, sorted when its day comes
//! (cheaper than a heap over everything in flight, and a day's memory is freed once it is
//! done), and a small heap for events that arrive for the day in progress.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

const DAY: u32 = 86_400;

/// An event with an instant in seconds; its order (`Ord`) must put earlier instants first.
pub trait Timed: Ord + Copy {
    fn at(&self) -> u32;
}

pub struct DayQueue<T> {
    /// Day of `buckets[0]`.
    base: u32,
    buckets: VecDeque<Vec<T>>,
    /// The day in progress, whose events are in `sorted[next..]` and `today`.
    current: Option<u32>,
    sorted: Vec<T>,
    next: usize,
    today: BinaryHeap<Reverse<T>>,
}

impl<T> Default for DayQueue<T> {
    fn default() -> Self {
        DayQueue {
            base: 0,
            buckets: VecDeque::new(),
            current: None,
            sorted: Vec::new(),
            next: 0,
            today: BinaryHeap::new(),
        }
    }
}

impl<T: Timed> DayQueue<T> {
    pub fn push(&mut self, r: T) {
        let day = r.at() / DAY;
        if self.current.is_some_and(|c| day <= c) {
            self.today.push(Reverse(r));
            return;
        }
        if self.buckets.is_empty() {
            self.base = day;
        }
        while day < self.base {
            self.buckets.push_front(Vec::new());
            self.base -= 1;
        }
        let i = (day - self.base) as usize;
        if i >= self.buckets.len() {
            self.buckets.resize_with(i + 1, Vec::new);
        }
        self.buckets[i].push(r);
    }

    /// The earliest event.
    pub fn peek(&mut self) -> Option<T> {
        loop {
            let a = self.sorted.get(self.next).copied();
            let b = self.today.peek().map(|r| r.0);
            match (a, b) {
                (Some(a), Some(b)) => return Some(a.min(b)),
                (Some(x), None) | (None, Some(x)) => return Some(x),
                (None, None) => {}
            }
            // The day is done: sort the next one that has requests.
            loop {
                let bucket = self.buckets.pop_front()?;
                let day = self.base;
                self.base += 1;
                if !bucket.is_empty() {
                    self.sorted = bucket;
                    self.sorted.sort_unstable();
                    self.next = 0;
                    self.current = Some(day);
                    break;
                }
            }
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        let r = self.peek()?;
        if self.sorted.get(self.next) == Some(&r) {
            self.next += 1;
        } else {
            self.today.pop();
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Event {
        at: u32,
        notification: u32,
    }

    impl Timed for Event {
        fn at(&self) -> u32 {
            self.at
        }
    }

    fn req(at: u32, notification: u32) -> Event {
        Event { at, notification }
    }

    #[test]
    fn requests_come_out_in_time_order_whenever_they_were_pushed() {
        let mut q = DayQueue::default();
        for (at, n) in [(5 * DAY + 7, 1), (DAY + 3, 2), (3 * DAY, 3), (DAY + 1, 4)] {
            q.push(req(at, n));
        }
        assert_eq!(q.pop().map(|r| r.notification), Some(4));
        // Pushed for the day in progress, and for the next day.
        q.push(req(DAY + 2, 5));
        q.push(req(2 * DAY, 6));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop())
            .map(|r| r.notification)
            .collect();
        assert_eq!(order, vec![5, 2, 6, 3, 1]);
        assert_eq!(q.pop(), None);
        q.push(req(9 * DAY, 7));
        assert_eq!(q.pop().map(|r| r.notification), Some(7));
    }
}
