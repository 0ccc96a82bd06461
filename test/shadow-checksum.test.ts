import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { checksumRows } from '../src/shadow/compare';

const integers = [{ name: 'n', type: 'integer' }];
const numbered = (count: number): number[][] => Array.from({ length: count }, (_, i) => [i + 1]);

/** The definition of the order-insensitive checksum, in BigInt arithmetic: the sum modulo 2^128 of each row's SHA-256 prefix. */
function referenceSum(encodings: string[]): string {
  let sum = 0n;
  for (const text of encodings) {
    const prefix = createHash('sha256').update(text).digest().subarray(0, 16).toString('hex');
    sum = (sum + BigInt(`0x${prefix}`)) % (1n << 128n);
  }
  return `u${encodings.length}:${sum.toString(16).padStart(32, '0')}`;
}

/**
 * The row checksums shadow validation decides most comparisons with (issue 13 bench: hashing was
 * most of the comparison's time). What they must keep meaning, whatever makes them faster.
 */
describe('shadow checksums', () => {
  it('the order-insensitive checksum of 5,000 rows is the sum modulo 2^128 of their SHA-256 prefixes (carries and the wrap included)', () => {
    const rows = numbered(5_000);
    const expected = referenceSum(rows.map(([n]) => `d${n}`));
    assert.equal(checksumRows(integers, rows, false), expected);
    // The value the first implementation (BigInt sums) gave for these rows.
    assert.equal(expected, 'u5000:1e3758a0d2aeafce28ebe53573044a96');
    assert.equal(checksumRows(integers, [...rows].reverse(), false), expected);
    assert.equal(checksumRows(integers, [], false), `u0:${'0'.repeat(32)}`);
  });

  it('the ordered checksum of 10,000 rows (more than one hashed chunk) sees a changed row anywhere, a swap, and where rows begin', () => {
    const rows = numbered(10_000);
    const checksum = checksumRows(integers, rows, true);
    assert.equal(checksumRows(integers, numbered(10_000), true), checksum, 'equal sequences, equal checksums');
    for (const at of [0, 5_000, 9_999]) {
      const changed = rows.map((row, i) => (i === at ? [row[0] + 1] : row));
      assert.notEqual(checksumRows(integers, changed, true), checksum, `row ${at} changed`);
    }
    const swapped = [...rows];
    [swapped[9_000], swapped[9_001]] = [swapped[9_001], swapped[9_000]];
    assert.notEqual(checksumRows(integers, swapped, true), checksum, 'two rows past the first chunk swapped');
    assert.notEqual(checksumRows(integers, rows.slice(0, -1), true), checksum, 'the last row dropped');
    const words = [{ name: 'w', type: 'varchar' }];
    assert.notEqual(checksumRows(words, [['ab'], ['c']], true), checksumRows(words, [['a'], ['bc']], true));
    assert.notEqual(checksumRows(integers, [[12], [3]], true), checksumRows(integers, [[1], [23]], true));
  });
});
