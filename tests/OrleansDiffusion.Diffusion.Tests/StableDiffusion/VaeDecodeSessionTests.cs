using OrleansDiffusion.Diffusion.StableDiffusion;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>The staged tiled decode: sessions stop at every GroupNorm with partial sums and continue with pooled ones.</summary>
public sealed class VaeDecodeSessionTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void One_session_over_the_whole_latent_is_the_untiled_decode()
    {
        manual_seed(11);
        using var latent = randn(4, 8, 12);
        using var noGrad = no_grad();
        using var batch = latent.unsqueeze(0);
        using var whole = tiny.Model.Vae.Decode(batch);

        using var session = new VaeDecodeSession(tiny.Model.Vae, latent, new LatentRegion(0, 0, 8, 12));
        var norms = 0;
        while (!session.IsComplete)
        {
            Assert.Equal(norms, session.Statistics.Norm);
            session.Continue(GroupStatistics.Sum([session.Statistics]));
            norms++;
        }

        Assert.Equal(session.NormCount, norms);
        Assert.Equal(tiny.Model.Vae.decoder.Norms.Count(), norms);
        Assert.True(session.Output.allclose(whole[0], rtol: 1e-4, atol: 1e-5), $"max |staged − forward| {TensorAssertions.MaxDifference(session.Output, whole[0])}");
    }

    [Fact]
    public void Sessions_driven_as_a_coordinator_would_equal_the_in_process_decode()
    {
        manual_seed(12);
        using var latent = randn(4, 16, 24);
        using var expected = TiledVaeDecoder.Decode(tiny.Model.Vae, latent, tile: 8);
        var halo = TiledVaeDecoder.Halo(tiny.Model.Vae.Config);
        var windows = TiledVaeDecoder.Windows(16, 24, 8);

        // Two "workers" hold the sessions; the "coordinator" sums their partial statistics in another order.
        var sessions = windows.Select(w => VaeDecodeSession.ForWindow(tiny.Model.Vae, latent, w, halo)).ToArray();
        try
        {
            var workers = new[] { sessions.Where((_, i) => i % 2 == 0).ToArray(), sessions.Where((_, i) => i % 2 == 1).ToArray() };
            while (!sessions[0].IsComplete)
            {
                var perWorker = workers.Select(w => GroupStatistics.Sum(w.Select(s => s.Statistics))).Reverse();
                var pooled = GroupStatistics.Sum(perWorker);
                foreach (var worker in workers)
                    foreach (var session in worker) session.Continue(pooled);
            }
            using var stitched = zeros(3, 128, 192);
            for (var i = 0; i < windows.Count; i++)
                stitched.narrow(1, windows[i].Top * 8, windows[i].Height * 8).narrow(2, windows[i].Left * 8, windows[i].Width * 8).copy_(sessions[i].Output);

            Assert.True(stitched.allclose(expected, rtol: 0, atol: 1e-6), $"max difference {TensorAssertions.MaxDifference(stitched, expected)}");
        }
        finally
        {
            foreach (var session in sessions) session.Dispose();
        }
    }

    [Fact]
    public void Parked_sessions_replay_to_the_same_pixels()
    {
        manual_seed(13);
        using var latent = randn(4, 16, 24);
        using var live = TiledVaeDecoder.Decode(tiny.Model.Vae, latent, tile: 8);
        using var parked = TiledVaeDecoder.Decode(tiny.Model.Vae, latent, tile: 8, memoryBudget: 0);

        Assert.True(parked.eq(live).all().item<bool>());
    }

    [Fact]
    public void A_budget_below_the_live_activations_parks_some_tiles_holds_the_bound_and_keeps_the_pixels()
    {
        manual_seed(15);
        using var latent = randn(4, 16, 24);
        var halo = TiledVaeDecoder.Halo(tiny.Model.Vae.Config);
        var windows = TiledVaeDecoder.Windows(16, 24, 8);
        using var unbounded = TiledVaeDecoder.Decode(tiny.Model.Vae, latent, tile: 8, memoryBudget: long.MaxValue);

        // The largest stage of the unbounded decode, then a budget of 40% of it: the two "workers" share one memory.
        var sessions = windows.Select(w => VaeDecodeSession.ForWindow(tiny.Model.Vae, latent, w, halo)).ToArray();
        long peak = 0;
        try
        {
            while (!sessions[0].IsComplete)
            {
                peak = Math.Max(peak, sessions.Sum(s => s.LiveBytes));
                var pooled = GroupStatistics.Sum(sessions.Select(s => s.Statistics));
                foreach (var session in sessions) session.Continue(pooled);
            }
        }
        finally
        {
            foreach (var session in sessions) session.Dispose();
        }
        var budget = new DecodeMemoryBudget(peak * 2 / 5);
        sessions = windows.Select(w => VaeDecodeSession.ForWindow(tiny.Model.Vae, latent, w, halo)).ToArray();
        try
        {
            var workers = new[] { sessions.Where((_, i) => i % 2 == 0).ToArray(), sessions.Where((_, i) => i % 2 == 1).ToArray() };
            var kept = 0;
            foreach (var session in sessions) budget.Fit(session);
            while (!sessions[0].IsComplete)
            {
                var pooled = GroupStatistics.Sum(sessions.Select(s => s.Statistics));
                foreach (var worker in workers)
                    foreach (var session in worker)
                    {
                        session.Continue(pooled);
                        if (!budget.Fit(session) && !session.IsComplete) kept++;
                        Assert.Equal(sessions.Sum(s => s.LiveBytes), budget.LiveBytes);
                        Assert.True(budget.LiveBytes <= budget.Bytes, $"{budget.LiveBytes} live over a budget of {budget.Bytes}");
                    }
            }
            Assert.True(budget.Parks > 0 && kept > 0, $"{budget.Parks} parked, {kept} kept");
            using var stitched = zeros(3, 128, 192);
            for (var i = 0; i < windows.Count; i++)
                stitched.narrow(1, windows[i].Top * 8, windows[i].Height * 8).narrow(2, windows[i].Left * 8, windows[i].Width * 8).copy_(sessions[i].Output);
            Assert.True(stitched.eq(unbounded).all().item<bool>(), $"max difference {TensorAssertions.MaxDifference(stitched, unbounded)}");
        }
        finally
        {
            foreach (var session in sessions)
            {
                budget.Release(session);
                session.Dispose();
            }
        }
        Assert.Equal(0, budget.LiveBytes);
    }

    [Fact]
    public void Statistics_of_another_norm_are_refused()
    {
        manual_seed(14);
        using var latent = randn(4, 8, 8);
        using var session = new VaeDecodeSession(tiny.Model.Vae, latent, new LatentRegion(0, 0, 8, 8));
        var first = session.Statistics;
        session.Continue(first);

        Assert.Throws<ArgumentException>(() => session.Continue(first));
        Assert.Throws<ArgumentException>(() => GroupStatistics.Sum([first, session.Statistics]));
        Assert.Throws<InvalidOperationException>(() => session.Output);
    }
}
