namespace OrleansDiffusion.Diffusion.Tests.Tiling;

internal static class GoldenNoise
{
    // NoiseField(1234).Sample(step 0, 1 channel, rows {0, 5000}, columns {0, 7}), recorded when the field was introduced.
    public static readonly float[] Values = [0.457369685f, 0.0885067955f, -1.17923009f, 1.7003547f];
}
