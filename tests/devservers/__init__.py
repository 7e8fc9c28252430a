"""Tests of the throwaway servers."""
