import sharp from "sharp";
import { type ImageSet, pixelsPerImage } from "./types";

/** An RGB raster, 3 bytes per pixel, row-major. */
export interface RgbRaster {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The first `count` images of a set tiled in a grid (Figure 7 style), separated by `padding` white pixels. */
export function imageGrid(set: ImageSet, opts: { columns?: number; count?: number; padding?: number } = {}): RgbRaster {
  const count = Math.min(set.n, opts.count ?? set.n);
  const columns = Math.max(1, Math.min(count, opts.columns ?? Math.ceil(Math.sqrt(count))));
  const rows = Math.max(1, Math.ceil(count / columns));
  const pad = opts.padding ?? 1;
  const width = columns * (set.width + pad) + pad;
  const height = rows * (set.height + pad) + pad;
  const data = new Uint8Array(width * height * 3).fill(255);
  const per = pixelsPerImage(set);
  for (let k = 0; k < count; k++) {
    const x0 = pad + (k % columns) * (set.width + pad);
    const y0 = pad + Math.floor(k / columns) * (set.height + pad);
    for (let y = 0; y < set.height; y++) {
      for (let x = 0; x < set.width; x++) {
        for (let c = 0; c < 3; c++) {
          const v = set.images[k * per + (y * set.width + x) * 3 + c];
          data[((y0 + y) * width + x0 + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
        }
      }
    }
  }
  return { data, width, height };
}

/** PNG bytes of a raster, optionally scaled up by an integer factor (nearest neighbour, crisp pixels). */
export async function encodePng(raster: RgbRaster, zoom = 1): Promise<Buffer> {
  let img = sharp(Buffer.from(raster.data), { raw: { width: raster.width, height: raster.height, channels: 3 } });
  if (zoom !== 1) img = img.resize(raster.width * zoom, raster.height * zoom, { kernel: "nearest" });
  return img.png().toBuffer();
}

/** A `data:image/png;base64,...` URL (for notebook HTML output). */
export async function pngDataUrl(raster: RgbRaster, zoom = 1): Promise<string> {
  return `data:image/png;base64,${(await encodePng(raster, zoom)).toString("base64")}`;
}
