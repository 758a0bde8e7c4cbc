namespace OrleansDiffusion.Diffusion.Schedulers;

/// <summary>diffusers' <c>timestep_spacing</c>: which training timesteps a run of S steps visits, first (noisiest) first.
/// The one implementation every scheduler uses.</summary>
public static class TimestepSpacing
{
    public const string Leading = "leading";
    public const string Trailing = "trailing";
    public const string Linspace = "linspace";

    public static readonly IReadOnlyList<string> Supported = [Leading, Trailing, Linspace];

    /// <summary>
    /// leading: (i·⌊T/S⌋) + steps_offset for i = S−1..0; trailing: round(T − i·T/S) − 1 for i = 0..S−1;
    /// linspace: S values evenly from T−1 down to 0 (not rounded; DDIM rounds them, Euler interpolates σ between them).
    /// </summary>
    public static double[] Timesteps(string spacing, int trainTimesteps, int steps, int stepsOffset)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, trainTimesteps);
        var n = trainTimesteps;
        if (spacing == Leading && (steps - 1) * (n / steps) + stepsOffset >= n)
            throw new ArgumentOutOfRangeException(nameof(steps), steps,
                $"with leading spacing and steps_offset {stepsOffset}, at most {MaxLeadingSteps(n, stepsOffset)} steps reach only training timesteps below {n}");
        return spacing switch
        {
            Leading => Enumerable.Range(0, steps).Reverse().Select(i => (double)(i * (n / steps) + stepsOffset)).ToArray(),
            Trailing => Enumerable.Range(0, steps).Select(i => Math.Round(n - i * ((double)n / steps)) - 1).ToArray(),
            Linspace => Enumerable.Range(0, steps).Reverse().Select(i => steps == 1 ? 0 : i == steps - 1 ? n - 1.0 : i * ((n - 1.0) / (steps - 1))).ToArray(),
            _ => throw new NotSupportedException($"timestep_spacing '{spacing}' is not supported ({string.Join(", ", Supported)})"),
        };
    }

    /// <summary>The most steps leading spacing allows before the last timestep passes the training schedule.</summary>
    public static int MaxLeadingSteps(int trainTimesteps, int stepsOffset)
    {
        var steps = trainTimesteps;
        while (steps > 1 && (steps - 1) * (trainTimesteps / steps) + stepsOffset >= trainTimesteps) steps--;
        return steps;
    }
}
