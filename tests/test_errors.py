"""The one message shape for bad input."""
import pytest

from labkit import errors


def test_message_shape():
    with pytest.raises(errors.ParameterError) as e:
        errors.check_range(1.5, "amount", "prune", 0.0, 1.0, high_inclusive=False)
    assert str(e.value) == "The 'amount' parameter of prune must be a float in [0.0, 1.0). Got 1.5 instead."
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("call, match", [
    (lambda: errors.check_int(True, "n", "f"), "must be an int"),
    (lambda: errors.check_int(2.0, "n", "f"), "must be an int"),
    (lambda: errors.check_range(float("nan"), "x", "f"), "must be a float"),
    (lambda: errors.check_positive(0, "temperature", "soft_targets"), "must be a float > 0"),
    (lambda: errors.check_probability(-0.1, "p", "f"), r"must be a float in \[0.0, 1.0\]"),
    (lambda: errors.check_choice("x", ("a", "b"), "mode", "f"), "must be one of 'a', 'b'. Got 'x' instead."),
    (lambda: errors.check_type("s", int, "n", "f", "an int"), "must be an int. Got 's' instead."),
])
def test_each_helper_rejects_with_the_shape(call, match):
    with pytest.raises(errors.ParameterError, match=match):
        call()
