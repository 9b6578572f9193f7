import * as tf from "@tensorflow/tfjs";
import type { Modality } from "../collapse/modality";
import { type ImageSet, concatImages, imageCodec, quantize8, selectImages } from "../images/types";
import { Rng } from "../random";
import { type Classifier, attributeConfidence, attributeFrequencies, classify } from "./classifier";
import { type FeatureStats, featureStats, frechetDistance, precisionRecall } from "../metrics/features";
import { type VaeConfig, decode, disposeVae, vaeInit } from "./model";
import { type VaeTrainConfig, evaluateElbo, normalTensor, scaledVaeTraining, trainVae } from "./train";
import { vaeFitCompute } from "./plan";
import { ConfigError } from "../errors";
import type { Params } from "../nn/params";

export interface VaeModel {
  params: Params;
  /** Images the model was fit on (one epoch's worth). */
  trainImages: number;
}

export interface VaeModalityOptions {
  model: VaeConfig;
  train: VaeTrainConfig;
  /** Real training images: the original set first, then the fresh-real draws in order. */
  realTrain: ImageSet;
  /** Size of the original real set (the first draw). */
  originalImages: number;
  /** Held-out real images: the test error and the reference set of the sample metrics. */
  test: ImageSet;
  /** Judges generated images (attribute frequencies, features); trained on real data beforehand. */
  classifier?: Classifier;
  /** Generated images scored per iteration (0 = no sample metrics). */
  metricSamples: number;
  /** Seed of the fixed noise of the test ELBO, the same for every model so their errors compare. */
  evalSeed: number;
  /** Images decoded per batch when sampling. */
  sampleBatch?: number;
}

/**
 * VAEs as a collapse-loop modality: fit = train a freshly initialised VAE on the parts, sample = decode
 * latents drawn from the N(0, I) prior (decoder means, stored as 8-bit images, without attribute labels),
 * evaluate = −ELBO on held-out real images (the paper's test error, nats per image) plus, when a
 * classifier is given, what a batch of generated images looks like to it against the real test images.
 */
export function vaeModality(o: VaeModalityOptions): Modality<ImageSet, VaeModel> {
  const batch = o.sampleBatch ?? 256;
  let reference: { features: Float32Array; stats: FeatureStats; n: number } | null = null;
  const referenceFeatures = () => {
    if (!reference && o.classifier) {
      const { features } = classify(o.classifier, o.test);
      const f = o.classifier.config.featureDim;
      reference = { features, stats: featureStats(features, o.test.n, f), n: o.test.n };
    }
    return reference;
  };
  const sample = (model: VaeModel, size: number, rng: Rng): ImageSet => {
    const s = o.model.imageSize;
    const per = s * s * 3;
    const images = new Float32Array(size * per);
    for (let start = 0; start < size; start += batch) {
      const rows = Math.min(batch, size - start);
      tf.tidy(() => images.set(decode(o.model, model.params, normalTensor(rng, rows, o.model.latentDim)).dataSync(), start * per));
    }
    return { images: quantize8(images), n: size, height: s, width: s };
  };
  return {
    name: "vae",
    // sample decodes batch by batch, drawing the latents in order from one generator.
    previewSize: batch,
    size: (data) => data.n,
    select: (data, indices) => selectImages(data, indices),
    realPool: o.realTrain,
    async fit(parts, ctx) {
      // Synthetic images carry no labels; training only needs pixels.
      const data = concatImages(parts.map((p) => ({ images: p.data.images, n: p.data.n, height: p.data.height, width: p.data.width })));
      const params = vaeInit(o.model, ctx.rng.fork("init"));
      try {
        await trainVae(o.model, params, data, scaledVaeTraining(o.train, ctx.trainingScale), ctx.rng.fork("train"), ctx.report, ctx.checkpoint);
      } catch (e) {
        disposeVae(params);
        if (e instanceof Error) e.message = `iteration ${ctx.iteration}: ${e.message}`;
        throw e;
      }
      return { params, trainImages: data.n };
    },
    sample: (model, size, rng) => sample(model, size, rng),
    evaluate(model, rng) {
      const test = evaluateElbo(o.model, model.params, o.test, Rng.derive(o.evalSeed, "test-noise"));
      const metrics: Record<string, number> = {
        testNegElbo: test.negElbo,
        testReconstruction: test.reconstruction,
        testKl: test.kl,
        trainImages: model.trainImages,
      };
      const ref = referenceFeatures();
      if (ref && o.classifier && o.metricSamples > 0) {
        const generated = sample(model, o.metricSamples, rng.fork("metric-samples"));
        const { features, probabilities } = classify(o.classifier, generated);
        const f = o.classifier.config.featureDim;
        metrics.frechetDistance = frechetDistance(featureStats(features, generated.n, f), ref.stats);
        // k-NN manifolds of equal-sized sets (precision/recall depend on the set sizes; O(n²)).
        const nRef = Math.min(ref.n, generated.n);
        const pr = precisionRecall(ref.features.subarray(0, nRef * f), nRef, features, generated.n, f);
        metrics.precision = pr.precision;
        metrics.recall = pr.recall;
        for (const [name, freq] of Object.entries(attributeFrequencies(o.classifier, probabilities, generated.n))) metrics[`freq_${name}`] = freq;
      }
      return metrics;
    },
    dispose: (model) => disposeVae(model.params),
    codec: imageCodec,
    verifiers: {
      "classifier-confidence": (data) => {
        if (!o.classifier) throw new ConfigError("curation.verifier", "classifier-confidence needs the attribute classifier, and this VAE modality was given none");
        return attributeConfidence(o.classifier, data);
      },
    },
    trainingCompute: (parts, trainingScale) => vaeFitCompute(o.model, scaledVaeTraining(o.train, trainingScale), parts.reduce((s, p) => s + p.data.n, 0)),
  };
}
