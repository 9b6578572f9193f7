import * as tf from "@tensorflow/tfjs";
import { type CostModel, type FitWork, type Rates, OPTIMIZER_BYTES_PER_PARAMETER, loopOf, plannedIterations, stepsOnly, TIMED_SECONDS, timeSteps } from "../collapse/plan";
import type { ImageSet } from "../images/types";
import { disposeParams } from "../nn/params";
import { Rng } from "../random";
import { disposeClassifier, trainClassifier } from "./classifier";
import { type VaeConfig, decode, vaeInit, vaeParameterCount, vaeSpecs } from "./model";
import { type VaeSequenceConfig, classifierFor, loadVaeData } from "./sequence";
import { type VaeTrainConfig, checkVaeTrainConfig, evaluateElbo, trainVae } from "./train";
import { epochSteps, examplesVisited } from "../nn/fit";
import type { FitCompute } from "../collapse/modality";

/**
 * Multiply-adds of one image's forward pass: each conv's weights once per output position (the
 * encoder's stride-2 convs halve the side; the decoder's sub-pixel convs run at the smaller side and
 * double it), the dense heads once. Encoder and decoder returned apart (sampling decodes only).
 */
export function vaeForwardMacs(c: VaeConfig): { encoder: number; decoder: number } {
  const specs = vaeSpecs(c);
  const size = (name: string) => specs[name].shape.reduce((a, b) => a * b, 1);
  let encoder = size("mu.w") + size("logvar.w");
  let decoder = size("dec.in.w");
  c.channels.forEach((_, i) => {
    const side = c.imageSize / 2 ** (i + 1);
    encoder += size(`enc.${i}.w`) * side * side;
    decoder += size(`dec.${i}.w`) * side * side;
  });
  return { encoder, decoder };
}

/**
 * The training work of one VAE fit on `images` images, as trainVae counts it: epochSteps batches, the
 * images they visit (a pass's last batch short), and 3× the forward pass's FLOPs per image (2 per
 * multiply-add; a backward pass is about twice a forward one), the convention of the cost model below.
 */
export function vaeFitCompute(model: VaeConfig, train: VaeTrainConfig, images: number): FitCompute {
  const macs = vaeForwardMacs(model);
  const examples = examplesVisited(images, train.batchSize, epochSteps(images, train.batchSize, train.epochs, train.maxSteps));
  return { examples, flops: 3 * 2 * (macs.encoder + macs.decoder) * examples };
}

/** Float32 values a training step keeps per image: every layer's output, its activation and their gradients. */
function activationFloatsPerImage(c: VaeConfig): number {
  let floats = 2 * c.imageSize * c.imageSize * 3;
  c.channels.forEach((w, i) => {
    const side = c.imageSize / 2 ** (i + 1);
    floats += 2 * side * side * w; // encoder output at this side
    floats += 2 * (2 * side) * (2 * side) * (i > 0 ? c.channels[i - 1] : 3); // decoder output at twice the side
  });
  return 2 * floats;
}

const modelOf = (c: VaeSequenceConfig): VaeConfig => ({ ...c.model, imageSize: c.imageSize });

export const VAE_COST: CostModel<VaeSequenceConfig> = {
  work(c) {
    const m = modelOf(c);
    const t = checkVaeTrainConfig(c.train ?? {});
    const macs = vaeForwardMacs(m);
    const forward = 2 * (macs.encoder + macs.decoder);
    const n = vaeParameterCount(m);
    const pixels = c.imageSize * c.imageSize * 3;
    const plan = plannedIterations({ ...loopOf(c, c.trainImages, c.freshRealImages ?? 0), syntheticSizes: c.samplesPerIteration });
    const fits: FitWork[] = plan.map((p) => {
      const steps = epochSteps(p.trainSize, t.batchSize, t.epochs * p.scale, t.maxSteps);
      const trainUnits = steps * t.batchSize;
      // After the last model, a run in the store keeps one sampling batch of 256 (what a longer run would start with).
      const sampleUnits = p.drawn + (p.iteration === c.iterations ? 256 : 0) + c.metricSamples;
      const evalUnits = c.testImages;
      return {
        iteration: p.iteration,
        trainSize: p.trainSize,
        trainUnits,
        steps,
        trainFlops: 3 * forward * trainUnits,
        sampleUnits,
        sampleFlops: 2 * macs.decoder * sampleUnits,
        sampleCalls: Math.ceil(sampleUnits / 128),
        evalUnits,
        evalFlops: forward * evalUnits,
        // Synthetic images as bytes, and the model's float32 parameters.
        diskBytes: p.drawn * pixels + 4 * n,
      };
    });
    return {
      parameters: n,
      units: { train: "images", sample: "images", eval: "images" },
      fits,
      memory: {
        peakBytes: 3 * 4 * (n * (2 + OPTIMIZER_BYTES_PER_PARAMETER / 4) + t.batchSize * activationFloatsPerImage(m)) + 1e9 + 4 * pixels * (c.trainImages + c.testImages + c.classifierImages + c.samplesPerIteration * (c.strategy === "accumulate" ? c.iterations - 1 : 1)),
        basis: "§3.3 memory: tensor sizes × 3 + 1 GB, and the image sets in memory as float32 (an estimate, not measured)",
      },
      checkpointBytes: 4 * n * 3 + 1e6,
      assumptions: [],
    };
  },

  async calibrate(c, opts): Promise<Rates> {
    const m = modelOf(c);
    const t = checkVaeTrainConfig(c.train ?? {});
    const rng = Rng.derive(0, "plan", "vae");
    const params = vaeInit(m, rng.fork("init"));
    // Pixel values do not change the work: random images, as many as the steps take.
    const images = (n: number): ImageSet => ({ images: Float32Array.from({ length: n * c.imageSize * c.imageSize * 3 }, () => rng.int(256) / 255), n, height: c.imageSize, width: c.imageSize });
    // One set of 32 batches, passed over as many times as the steps take.
    const set = images(t.batchSize * 32);
    const fitOf = async (steps: number) => (await trainVae(m, params, set, { ...t, epochs: steps / 32, maxSteps: steps }, rng.fork("fit"))).seconds;
    try {
      const { perStep, fitOverhead, k } = await timeSteps(fitOf, { warmUp: 2, minSeconds: opts?.stepsOnly ? TIMED_SECONDS.besideLoad : TIMED_SECONDS.alone, signal: opts?.signal });
      if (opts?.stepsOnly) return stepsOnly(perStep, fitOverhead);
      const test = images(Math.min(256, Math.max(32, c.testImages)));
      evaluateElbo(m, params, test, rng.fork("eval"));
      let t0 = performance.now();
      evaluateElbo(m, params, test, rng.fork("eval"));
      const evalUnit = (performance.now() - t0) / 1000 / test.n;
      const decodeOnce = () => tf.tidy(() => decode(m, params, tf.randomNormal([128, m.latentDim])).dataSync());
      decodeOnce();
      t0 = performance.now();
      decodeOnce();
      const sampleUnit = (performance.now() - t0) / 1000 / 128;
      // Set-up: the real images (embedded: rendered here; files: decoded), and the attribute classifier's training.
      const small = { ...c, data: "embedded", trainImages: 64, testImages: 16, classifierImages: 128, freshRealImages: 0 };
      t0 = performance.now();
      const data = await loadVaeData(small);
      const perImage = (performance.now() - t0) / 1000 / (64 + 16 + 128);
      // Two fresh classifiers' fits of 1 and 3 epochs over the 128 images (2 and 6 steps): the difference is 4 steps.
      const classifierFit = async (epochs: number) => {
        const clf = classifierFor(small, data);
        try {
          const t1 = performance.now();
          await trainClassifier(clf, data.classifierSet, { epochs, batchSize: 64, learningRate: 2e-3 }, rng.fork("classifier"));
          return (performance.now() - t1) / 1000;
        } finally {
          disposeClassifier(clf);
        }
      };
      await classifierFit(1);
      const classifierStep = Math.max(0, ((await classifierFit(3)) - (await classifierFit(1))) / 4);
      const imagesLoaded = c.trainImages + (c.freshRealImages ?? 0) * (c.iterations - 1) + c.testImages + c.classifierImages;
      const setup = perImage * imagesLoaded + classifierStep * Math.ceil(c.classifierImages / 64) * c.classifierEpochs;
      return {
        trainStep: perStep,
        sampleUnit,
        evalUnit,
        setup,
        fitOverhead,
        basis: `§3.3 timing: fits of ${k} and ${2 * k} steps of ${t.batchSize} images, ${test.n} test images, 128 decoded, embedded faces rendered and a classifier trained on 128 (real files' decoding is taken as fast as rendering)`,
      };
    } finally {
      disposeParams(params);
    }
  },
};
