/** Content inspection for uploads (SPEC §7): type by magic bytes, image dimensions, thumbnails. */
export interface SniffedType {
  readonly mime: string;
  /** Extension for the detected type, never the client's (U-01, U-04). */
  readonly ext: string;
}

export interface ProcessedImage {
  readonly width: number;
  readonly height: number;
  /** The image re-encoded without metadata (EXIF/GPS, U-08); stored instead of the original bytes. */
  readonly cleaned: Buffer;
  readonly thumbnail: Buffer;
  readonly thumbnailMime: string;
  readonly thumbnailExt: string;
}

export interface MediaInspector {
  /** Detects the type from the file's leading bytes; null when the content is not a known binary format. */
  sniffFile(path: string): Promise<SniffedType | null>;
  /** Throws when the image is corrupt, exceeds the pixel limit (U-07) or takes too long. */
  processImage(path: string, mime: string): Promise<ProcessedImage>;
}
