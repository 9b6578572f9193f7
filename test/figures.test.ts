import assert from "node:assert/strict";
import { test } from "node:test";
import { figure2, figure9, normalizedFigure, strategiesFigure } from "../src/experiments/linearRegression";
import { runLinearExperiment } from "../src/linear/montecarlo";
import { linearErrorFigure, linearSummaryRows } from "../src/linear/figures";
import { type LmCurve, lmCrossEntropyByStrategyFigure, lmCrossEntropyFigure, lmLearningCurvesFigure, samplesTableHtml } from "../src/lm/figures";
import { notebookDisplay, tableHtml } from "../src/plots/notebook";
import { figureHtml, standaloneHtml } from "../src/plots/plotly";

async function smallResult() {
  return runLinearExperiment({
    settings: [
      { d: 2, T: 10, sigma2: 1 },
      { d: 2, T: 10, sigma2: 0.1 },
    ],
    strategies: ["replace", "accumulate", "accumulate-subsample", "replace-multiple"],
    iterations: 12,
    seeds: 6,
  });
}

test("Figure 2 has replace above accumulate, one column per σ², theory dashed, first 10 iterations", async () => {
  const result = await smallResult();
  const fig = figure2(result);
  const layout = fig.layout as { grid: { rows: number; columns: number }; yaxis: { title: { text: string } }; yaxis3: { title: { text: string } } };
  assert.deepEqual([layout.grid.rows, layout.grid.columns], [2, 2]);
  assert.match(layout.yaxis.title.text, /^replace/);
  assert.match(layout.yaxis3.title.text, /^accumulate/);
  const means = fig.data.filter((t) => t.mode !== "lines" || (t.line as { dash?: string }).dash !== "dash").filter((t) => t.fill === undefined);
  const theory = fig.data.filter((t) => (t.line as { dash?: string } | undefined)?.dash === "dash");
  assert.equal(means.length, 4);
  assert.equal(theory.length, 4);
  for (const t of [...means, ...theory]) assert.equal((t.x as number[]).length, 10);
  // The replace panel's mean equals the curve's numbers.
  const replaceCurve = result.curves.find((c) => c.strategy === "replace" && c.setting.sigma2 === 1)!;
  const trace = means.find((t) => t.xaxis === "x2")!;
  assert.deepEqual(trace.y, replaceCurve.meanTestError.slice(0, 10));
});

test("Figure 9 is log-scaled over all iterations; the ablation and normalized figures cover every strategy", async () => {
  const result = await smallResult();
  const f9 = figure9(result);
  assert.equal((f9.layout.yaxis as { type: string }).type, "log");
  assert.equal((f9.data.find((t) => t.name && t.fill === undefined)!.x as number[]).length, 12);
  const ablation = strategiesFigure(result);
  assert.equal((ablation.layout.grid as { columns: number }).columns, 4);
  const normalized = normalizedFigure(result);
  const replaceTheory = normalized.data.find((t) => (t.line as { dash?: string }).dash === "dash" && t.xaxis === "x")!;
  // Normalized replace theory is exactly n.
  assert.deepEqual(replaceTheory.y, Array.from({ length: 12 }, (_, i) => i + 1).map((n) => (replaceTheory.y as number[])[0] * n));
});

test("a figure request matching nothing is an error, not an empty plot", async () => {
  const result = await smallResult();
  assert.throws(() => linearErrorFigure(result, { strategies: ["augment"] }), /no curves match/);
});

test("figure HTML is safe to embed and waits for plotly.js", () => {
  const html = figureHtml({ data: [{ type: "scatter", name: "</script><b>x" }], layout: {} }, "fig-1");
  assert.ok(!html.includes("</script><b>"), "strings cannot close the script element");
  assert.match(html, /window\.Plotly\)draw\(\);else/);
  const page = standaloneHtml([{ data: [], layout: {} }], "t");
  assert.equal(page.split('id="collapse-kit-plotlyjs"').length - 1, 1);
});

test("notebookDisplay emits plotly.js once, then figures; live figures and progress coalesce updates into one display", async () => {
  const shown: string[] = [];
  const updates: string[] = [];
  const fake = { display: { html: (s: string) => shown.push(s) }, newDisplay: () => ({ html: (s: string) => updates.push(s) }) };
  const nb = notebookDisplay(fake, { figureDir: null });
  assert.equal(shown.length, 1);
  assert.match(shown[0], /id="collapse-kit-plotlyjs"/);
  nb.show({ data: [], layout: {} });
  assert.equal(shown.length, 2);
  assert.ok(!shown[1].includes("collapse-kit-plotlyjs"));
  const live = nb.live(undefined, 50);
  for (let i = 0; i < 5; i++) live.update({ data: [], layout: { title: `u${i}` } });
  assert.equal(updates.length, 0, "a burst from blocking code sends nothing synchronously");
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(updates.length, 1, "the burst became one message");
  assert.match(updates[0], /u4/, "carrying the latest state");
  live.done({ data: [], layout: { title: "final" } });
  assert.equal(updates.length, 2, "the final state is sent at once");
  assert.match(updates[1], /final/);
  const bar = nb.progress("fits", 10);
  for (let i = 1; i <= 9; i++) bar.update(i);
  bar.finish();
  assert.equal(updates.length, 3, "progress: only the final state went out synchronously");
  assert.match(updates[2], /fits 10\/10/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(updates.length, 3, "nothing stale is sent after the final state");
  assert.throws(() => nb.show({ data: [], layout: {} }, "../escape"), /figure name/);
});

test("summary rows carry z-scores against theory; the table escapes HTML", async () => {
  const result = await smallResult();
  const rows = linearSummaryRows(result, [1, 12]);
  assert.equal(rows.length, result.curves.length * 2);
  const sub = rows.find((r) => r.strategy === "accumulate-subsample")!;
  assert.equal(sub.theory, null);
  assert.equal(sub.z, null);
  assert.match(tableHtml([{ a: "<x>" }]), /&lt;x&gt;/);
});

test("Figure 3/4 builders: one panel per label, a line per strategy; learning curves per iteration on token axes", () => {
  const rec = (iteration: number, ce: number, curve = true) => ({
    iteration,
    trainSize: 10,
    realInTrain: 10,
    metrics: { testCrossEntropy: ce, trainTokens: 100 * iteration },
    seconds: 1,
    ...(curve ? { curve: [1, 2, 3].map((step) => ({ step, metrics: { tokens: step * 50, trainLoss: 5 - step, testCrossEntropy: ce + 1 / step } })) } : {}),
  });
  const curves: LmCurve[] = [
    { label: "gpt2", strategy: "replace", records: [rec(1, 3), rec(2, 3.5), rec(3, 4)] },
    { label: "gpt2", strategy: "accumulate", records: [rec(1, 3), rec(2, 2.9), rec(3, 2.95, false)] },
    { label: "llama", strategy: "replace", records: [rec(1, 2.8)] },
  ];
  const f3 = lmCrossEntropyFigure(curves);
  assert.equal((f3.layout.grid as { columns: number }).columns, 2);
  assert.equal(f3.data.length, 3);
  assert.deepEqual(f3.data[0].y, [3, 3.5, 4]);
  assert.equal(f3.data[2].xaxis, "x2");
  assert.equal(f3.data.filter((t) => t.showlegend).length, 2, "one legend entry per strategy");
  const f4 = lmLearningCurvesFigure(curves.slice(0, 2));
  assert.equal(f4.data.length, 5, "iteration 3 of accumulate reported no curve");
  assert.deepEqual(f4.data[0].x, [50, 100, 150]);
  assert.notEqual((f4.data[0].line as { color: string }).color, (f4.data[2].line as { color: string }).color);
  // the paper's axis: epochs, from each record's share of its trainTokens (2 epochs; matched compute ×3)
  const e4 = lmLearningCurvesFigure(curves.slice(0, 2), "f4", { x: "epochs", epochs: 2 });
  assert.deepEqual(e4.data[0].x, [1, 2, 3], "model 1 trained 100 tokens in 2 epochs: 50 tokens an epoch");
  assert.deepEqual(e4.data[1].x, [0.5, 1, 1.5], "model 2 trained 200 tokens in 2 epochs");
  assert.match(JSON.stringify(e4.layout), /"text":"epoch"/);
  const scaled = lmLearningCurvesFigure([{ label: "gpt2", strategy: "replace-matched-compute", records: [{ ...rec(2, 3), trainingScale: 3 }] }], "f4", { x: "epochs", epochs: 2 });
  assert.deepEqual(scaled.data[0].x, [1.5, 3, 4.5]);
  // Figures 3, 5, 6, 10 as the paper lays them out: a panel per strategy, a line per label, one y range
  const byStrategy = lmCrossEntropyByStrategyFigure(curves);
  assert.equal((byStrategy.layout.grid as { columns: number }).columns, 2);
  assert.deepEqual(byStrategy.data.map((t) => [t.name, t.xaxis]), [["gpt2", "x"], ["gpt2", "x2"], ["llama", "x"]]);
  assert.equal(byStrategy.data.filter((t) => t.showlegend).length, 2, "one legend entry per model");
  assert.equal((byStrategy.layout.yaxis2 as { matches: string }).matches, "y");
  assert.match(JSON.stringify(byStrategy.layout.annotations), /replace.*accumulate/);
  const html = samplesTableHtml([{ iteration: 1, samples: { replace: "<b>Once</b>", accumulate: "Once upon" } }]);
  assert.match(html, /&lt;b&gt;Once/);
  assert.match(html, /<th>replace<\/th><th>accumulate<\/th>/);
});

test("the tails figure: one panel per strategy, the median line over 25–75% and 5–95% bands from the records' quantiles", async () => {
  const { firstModelPerplexityFigure, lmTextMeasuresFigure } = await import("../src/lm/figures");
  const rec = (iteration: number, scale: number) => ({
    iteration,
    trainSize: 10,
    realInTrain: 10,
    seconds: 1,
    metrics: { firstModelPerplexityQ05: 5 * scale, firstModelPerplexityQ25: 10 * scale, firstModelPerplexityQ50: 20, firstModelPerplexityQ75: 40 / scale, firstModelPerplexityQ95: 80 / scale, validWordRate: 0.9, distinct1: 0.3, distinct2: 0.7 },
  });
  const curves = (["replace", "accumulate"] as const).map((strategy) => ({ label: "gpt2", strategy, records: [rec(1, 1), rec(2, 1.5)] }));
  const fig = firstModelPerplexityFigure(curves);
  assert.equal(fig.data.length, 6, "two bands and a median per strategy");
  const bands = fig.data.filter((d) => d.fill === "toself");
  assert.equal(bands.length, 4);
  for (const b of bands) assert.equal(b.mode, "lines", "bands draw no markers");
  assert.deepEqual(bands[0].y, [80, 80 / 1.5, 5 * 1.5, 5], "5–95% band: upper edge forward, lower edge back");
  assert.deepEqual(new Set(fig.data.map((d) => d.xaxis)), new Set(["x", "x2"]));
  assert.equal((fig.layout.yaxis as { type: string }).type, "log");
  const text = lmTextMeasuresFigure(curves);
  assert.equal(text.data.length, 6, "three panels × two strategies");
});

test("Figures 2 and 9 on a grid of many settings: one figure per σ², each drawing only its own settings", async () => {
  const { figure2Name, figure2Sigma2s } = await import("../src/experiments/linearRegression");
  const settings = [1, 3, 10].flatMap((d) => [0.1, 1, 10].map((sigma2) => ({ d, T: 20, sigma2 })));
  const result = await runLinearExperiment({ settings, strategies: ["replace", "accumulate"], iterations: 3, seeds: 4 });
  assert.deepEqual(figure2Sigma2s(result), [0.1, 1, 10]);
  assert.deepEqual(figure2Sigma2s(result).map((s) => figure2Name("figure2", s)), ["figure2-sigma2-0.1", "figure2", "figure2-sigma2-10"]);
  for (const s of [0.1, 10]) {
    const fig = figure9(result, s);
    assert.match(String((fig.layout.title as { text: string }).text), new RegExp(`σ²=${s}`));
    const names = JSON.stringify(fig.data.map((t) => t.hovertemplate ?? t.name));
    assert.doesNotMatch(names, /σ²=1\b(?!0)/, `σ²=${s}'s figure draws no σ²=1 curve`);
  }
  assert.notDeepEqual(figure2(result, 0.1).data.map((t) => t.y), figure2(result, 10).data.map((t) => t.y));
  // a small grid stays one figure with a column per σ²
  assert.deepEqual(figure2Sigma2s(await smallResult()), [null]);
});

test("several seeds: figures draw the mean with a ±1 SE band (no markers), tables give mean ± SE", async () => {
  const { formatMeanSe, groupSeeds, meanAndStandardError, strategyPanelsFigure } = await import("../src/plots/metricFigures");
  const rec = (iteration: number, v: number) => ({ iteration, trainSize: 1, realInTrain: 1, metrics: { loss: v }, seconds: 0 });
  const curves = [
    { label: "m", strategy: "replace" as const, records: [rec(1, 1), rec(2, 2)] },
    { label: "m", strategy: "replace" as const, records: [rec(1, 3), rec(2, 4)] },
    { label: "m", strategy: "replace" as const, records: [rec(1, 2)] },
    { label: "m", strategy: "accumulate" as const, records: [rec(1, 2), rec(2, 2)] },
  ];
  const groups = groupSeeds(curves, "loss");
  assert.equal(groups.length, 2);
  assert.deepEqual(groups[0].mean, [2, 3], "iteration 2 averages the seeds that reached it");
  assert.deepEqual(groups[0].se.map((x) => +x.toFixed(6)), [+(1 / Math.sqrt(3)).toFixed(6), +(Math.SQRT2 / Math.sqrt(2)).toFixed(6)]);
  assert.deepEqual(meanAndStandardError([5]), { mean: 5, se: 0 });
  const fig = strategyPanelsFigure(curves, { metric: "loss", axisTitle: "loss" }, "t");
  assert.equal(fig.data.length, 3, "replace: band + mean; accumulate (one seed): mean only");
  const band = fig.data[0];
  assert.equal(band.fill, "toself");
  assert.equal(band.mode, "lines");
  assert.equal(band.showlegend, false);
  assert.deepEqual(band.x, [1, 2, 2, 1]);
  assert.match(String(fig.data[1].hovertemplate), /mean of 3 seeds/);
  assert.equal(formatMeanSe([1, 3]), "2.000 ± 1.000 (2 seeds)");
  assert.equal(formatMeanSe([1.5]), "1.500");
});
