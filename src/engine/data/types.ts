/** The data the engine trains and attacks on: a split's samples and a whole dataset (both splits). */

export interface Split {
  /** uint8 pixels, N×H×W×C. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface Dataset {
  id: string;
  /** Where the files are, for reports. */
  location: string;
  shape: [number, number, number];
  classNames: string[];
  train: Split;
  test: Split;
}
