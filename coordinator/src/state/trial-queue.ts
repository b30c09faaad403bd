// The queued trials of one experiment, oldest first, with O(1) push and pop. A trial that leaves the
// queue out of turn (a late completion, a cancel) is not searched for: its entry goes stale and is
// dropped when it reaches the head. (A JS Set looked like a fit, but V8 leaves deleted entries as
// holes that `values().next()` walks over: popping 100,000 trials from the front cost 25 µs each.)

interface Entry {
  id: string;
  /** Matches the trial's `queue_seq` while this entry is the trial's live one. */
  seq: number;
}

export class TrialQueue {
  private entries: Entry[] = [];
  private head = 0;
  private nextSeq = 0;

  /** Appends a trial; returns the sequence number the trial must carry for the entry to be live. */
  push(id: string): number {
    const seq = this.nextSeq++;
    this.entries.push({ id, seq });
    return seq;
  }

  /** The oldest live trial, dropping stale entries on the way. `live(id, seq)` says if an entry still counts. */
  peek(live: (id: string, seq: number) => boolean): string | undefined {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head]!;
      if (live(entry.id, entry.seq)) return entry.id;
      this.head++;
      this.compact();
    }
    return undefined;
  }

  /** Drops the head entry if it is `id` (the trial just leased); otherwise the entry goes stale. */
  shiftIf(id: string): void {
    if (this.entries[this.head]?.id === id) {
      this.head++;
      this.compact();
    }
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
  }

  private compact(): void {
    if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
