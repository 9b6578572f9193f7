/** Mean and standard error of the mean (sample sd / √n; 0 when n < 2) of each column. */
export function columnMeanAndStdErr(rows: readonly ArrayLike<number>[]): { mean: number[]; stdErr: number[] } {
  const n = rows.length;
  const width = n > 0 ? rows[0].length : 0;
  const mean: number[] = new Array(width).fill(0);
  const stdErr: number[] = new Array(width).fill(0);
  for (let j = 0; j < width; j++) {
    let s = 0;
    for (const r of rows) s += r[j];
    const m = s / n;
    let ss = 0;
    for (const r of rows) ss += (r[j] - m) ** 2;
    mean[j] = m;
    stdErr[j] = n > 1 ? Math.sqrt(ss / (n - 1) / n) : 0;
  }
  return { mean, stdErr };
}
