"""The Freqtrade adapter: the strategy mixin and what it needs at start-up."""
