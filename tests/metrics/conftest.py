import pytest

from mine_gan.metrics import load_digit_classifier


@pytest.fixture(scope="session")
def digit_classifier_cache(tmp_path_factory):
    """A cache folder holding the 32×32 digit classifier, trained once for the whole session."""
    cache_dir = tmp_path_factory.mktemp("mine_gan_cache")
    load_digit_classifier(32, cache_dir=cache_dir, min_accuracy=0.0)
    return cache_dir


@pytest.fixture(scope="session")
def digit_classifier_32(digit_classifier_cache):
    """``(classifier, held-out accuracy)`` for 32×32 digits."""
    return load_digit_classifier(32, cache_dir=digit_classifier_cache, min_accuracy=0.0)
