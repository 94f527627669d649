//! The queue of posting requests in time order: a bucket per day, sorted when its day
//! comes (cheaper than a heap over everything in flight, and a day's memory is freed
//! once it is done), and a small heap for requests that arrive for the day in progress.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::Request;

const DAY: u32 = 86_400;

#[derive(Default)]
pub(super) struct DayQueue {
    /// Day of `buckets[0]`.
    base: u32,
    buckets: VecDeque<Vec<Request>>,
    /// The day in progress, whose requests are in `sorted[next..]` and `today`.
    current: Option<u32>,
    sorted: Vec<Request>,
    next: usize,
    today: BinaryHeap<Reverse<Request>>,
}

impl DayQueue {
    pub(super) fn push(&mut self, r: Request) {
        let day = r.at / DAY;
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

    /// The earliest request.
    pub(super) fn peek(&mut self) -> Option<Request> {
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

    pub(super) fn pop(&mut self) -> Option<Request> {
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

    fn req(at: u32, notification: u32) -> Request {
        Request {
            at,
            notification,
            ..Default::default()
        }
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
