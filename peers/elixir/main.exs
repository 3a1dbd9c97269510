# The Elixir peer of taskmem: N processes (Task.async, each in Process.sleep(SLEEP_MS)), awaited
# with Task.await_many, as in the published "1 million concurrent tasks" program. At the end it
# prints `done N spawn_ms=MS`: how long starting the N processes took.
#
# Usage: elixir --erl "+P LIMIT" main.exs N SLEEP_MS  (LIMIT > N: the BEAM's process limit)
usage = "(usage: elixir main.exs N SLEEP_MS)"

count = fn name, text ->
  case Integer.parse(text) do
    {v, ""} when v >= 0 ->
      v

    _ ->
      IO.puts(:stderr, "elixir/processes: #{name} '#{text}' is not a non-negative integer #{usage}")
      System.halt(2)
  end
end

case System.argv() do
  [n_text, ms_text] ->
    n = count.("N", n_text)
    ms = count.("SLEEP_MS", ms_text)
    start = System.monotonic_time(:millisecond)
    tasks = for _ <- 1..n//1, do: Task.async(fn -> Process.sleep(ms) end)
    spawn_ms = System.monotonic_time(:millisecond) - start
    Task.await_many(tasks, :infinity)
    IO.puts("done #{n} spawn_ms=#{spawn_ms}")

  args ->
    IO.puts(:stderr, "elixir/processes: expected 2 arguments, got #{length(args)} #{usage}")
    System.halt(2)
end
