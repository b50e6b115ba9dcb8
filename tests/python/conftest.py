import pytest


@pytest.fixture(params=["Reference", "CPU"])
def platform(request):
    import openmm
    return openmm.Platform.getPlatformByName(request.param)
