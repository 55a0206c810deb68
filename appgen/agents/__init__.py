"""Agents: the runner that drives Gemini CLI sessions in a workspace (`runner`), and a real local Gemini API
stand-in (`standin`) that the tests script and the offline local stack answers with."""
