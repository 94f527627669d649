//! The event queue of the time-ordered run: a bucket per day, sorted when its day comes
//! (cheaper than a heap over everything in flight, and a day's memory is freed once it is
//! done), and a small heap for events that arrive for the day in progress. Buckets and
//! first-in first-out lines grow by fixed blocks, so memory follows what they hold
//! rather than doubling ahead of it.

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
    buckets: VecDeque<Blocks<T>>,
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
            self.buckets.push_front(Blocks::default());
            self.base -= 1;
        }
        let i = (day - self.base) as usize;
        if i >= self.buckets.len() {
            self.buckets.resize_with(i + 1, Blocks::default);
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
                if bucket.len > 0 {
                    self.sorted = bucket.into_vec();
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

/// Elements per block.
const BLOCK: usize = 1024;

/// A growing sequence stored in fixed blocks.
struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy> Blocks<T> {
    fn push(&mut self, x: T) {
        match self.blocks.last_mut() {
            Some(b) if b.len() < BLOCK => b.push(x),
            _ => {
                let mut b = Vec::with_capacity(BLOCK);
                b.push(x);
                self.blocks.push(b);
            }
        }
        self.len += 1;
    }

    fn into_vec(self) -> Vec<T> {
        let mut v = Vec::with_capacity(self.len);
        for b in self.blocks {
            v.extend_from_slice(&b);
        }
        v
    }
}

/// A first-in first-out line stored in fixed blocks.
pub struct Fifo<T> {
    blocks: VecDeque<Vec<T>>,
    /// Position of the next element in the first block.
    head: usize,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            blocks: VecDeque::new(),
            head: 0,
        }
    }
}

impl<T: Copy> Fifo<T> {
    pub fn push_back(&mut self, x: T) {
        match self.blocks.back_mut() {
            Some(b) if b.len() < BLOCK => b.push(x),
            _ => {
                let mut b = Vec::with_capacity(BLOCK);
                b.push(x);
                self.blocks.push_back(b);
            }
        }
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let first = self.blocks.front()?;
        let x = first[self.head];
        self.head += 1;
        if self.head == first.len() {
            // Drained (a block being filled is the last one, so nothing more comes to it).
            self.blocks.pop_front();
            self.head = 0;
        }
        Some(x)
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
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

    #[test]
    fn a_fifo_line_keeps_order_across_blocks() {
        let mut f = Fifo::default();
        for i in 0..2500u32 {
            f.push_back(i);
        }
        let firsts: Vec<u32> = (0..1500).map(|_| f.pop_front().unwrap()).collect();
        assert_eq!(firsts, (0..1500).collect::<Vec<_>>());
        f.push_back(9999);
        let rest: Vec<u32> = std::iter::from_fn(|| f.pop_front()).collect();
        assert_eq!(rest.len(), 1001);
        assert_eq!((rest[0], rest[999], rest[1000]), (1500, 2499, 9999));
        assert!(f.is_empty());
    }
}
