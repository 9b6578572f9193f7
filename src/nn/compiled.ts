import type * as tf from "@tensorflow/tfjs";
import { type TensorFunction, compileStep } from "../backend/compile";
import type { Params } from "./params";

/**
 * A model computation as a compiled step (backend/compile) whose first inputs are the model's
 * parameters: `fn(params, rest)` with the parameters passed by sorted name. One compiled function per
 * `key` and parameter names, shared by every model of that shape (the parameters are inputs, not
 * constants), so the next model fit or sampling round finds it compiled. `key` must name everything
 * `fn` reads besides its inputs (model config, sampling settings): equal keys share one function.
 */
export function compiledWithParams(
  name: string,
  key: unknown,
  fn: (params: Params, rest: readonly tf.Tensor[]) => tf.Tensor[],
): (params: Params, rest: readonly tf.Tensor[]) => tf.Tensor[] {
  return (params, rest) => {
    const names = Object.keys(params).sort();
    const k = JSON.stringify([name, key, names]);
    let f = functions.get(k);
    if (!f) {
      f = compileStep(name, (inputs) => fn(Object.fromEntries(names.map((n, i) => [n, inputs[i]])) as Params, inputs.slice(names.length)));
      functions.set(k, f);
    }
    return f([...names.map((n) => params[n]), ...rest]);
  };
}

const functions = new Map<string, TensorFunction>();
