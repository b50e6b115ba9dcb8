/* How values cross the boundary between Python and openmm-bg's C++ API: numpy arrays and
   buffers, bytes, exceptions, and the GIL. Included by openmmbg.i. */

%{
/* Numbers to a writable float64 numpy array with one copy (numpy.frombuffer over a bytearray, so no
   numpy C headers are needed): shape [rows] when columns is 0, else [rows, columns]. A new reference,
   or NULL with a Python error set. */
static PyObject* doublesToNumpy(const double* values, Py_ssize_t rows, Py_ssize_t columns) {
    Py_ssize_t count = rows * (columns > 0 ? columns : 1);
    PyObject* bytes = PyByteArray_FromStringAndSize(count > 0 ? (const char*) values : NULL, count * (Py_ssize_t) sizeof(double));
    PyObject* numpyModule = bytes ? PyImport_ImportModule("numpy") : NULL;
    PyObject* flat = numpyModule ? PyObject_CallMethod(numpyModule, "frombuffer", "Os", bytes, "float64") : NULL;
    PyObject* result = flat;
    if (flat && columns > 0) {
        result = PyObject_CallMethod(flat, "reshape", "(nn)", rows, columns);
        Py_DECREF(flat);
    }
    Py_XDECREF(numpyModule);
    Py_XDECREF(bytes);
    return result;
}

/* A C-contiguous float64 buffer of shape [M, 3] (numpy array, nm) to M Vec3s. False, with a Python
   TypeError naming `method`, for anything else: the Python wrappers reshape and check first. */
static bool bufferToVec3(PyObject* input, std::vector<OpenMM::Vec3>& out, const char* method) {
    Py_buffer view;
    if (PyObject_GetBuffer(input, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: positions must be a float64 array [n*N, 3] in nm", method);
        return false;
    }
    std::string format = view.format ? view.format : "B";
    bool ok = view.ndim == 2 && view.shape[1] == 3 && view.itemsize == sizeof(double)
              && (format == "d" || format == "<d" || format == "=d" || format == "@d");
    if (ok) {
        const double* values = static_cast<const double*>(view.buf);
        out.resize(view.shape[0]);
        for (Py_ssize_t i = 0; i < view.shape[0]; i++)
            out[i] = OpenMM::Vec3(values[3 * i], values[3 * i + 1], values[3 * i + 2]);
    }
    PyBuffer_Release(&view);
    if (!ok)
        PyErr_Format(PyExc_TypeError, "%s: positions must be a float64 array [n*N, 3] in nm", method);
    return ok;
}
%}

%{
/* A C++ exception's message as an openmm.OpenMMException, as for OpenMM's own classes. */
static void setOpenMMException(const char* message) {
    PyObject* openmmModule = PyImport_ImportModule("openmm");
    PyObject* exceptionType = openmmModule ? PyObject_GetAttrString(openmmModule, "OpenMMException") : NULL;
    PyErr_Clear();
    PyErr_SetString(exceptionType ? exceptionType : PyExc_Exception, message);
    Py_XDECREF(exceptionType);
    Py_XDECREF(openmmModule);
}
%}

/* C++ exceptions become openmm.OpenMMException (IntVector's wrappers hold the GIL). */
%exception {
    try {
        $action
    } catch (std::exception& e) {
        setOpenMMException(e.what());
        SWIG_fail;
    }
}

namespace std {
    %template(IntVector) vector<int>;
}

/* Flow weights are bytes in Python (they may contain any byte value). */
%typemap(in) const std::string& weights (std::string temp) {
    char* buffer = NULL;
    Py_ssize_t length = 0;
    if (PyBytes_Check($input))
        PyBytes_AsStringAndSize($input, &buffer, &length);
    else
        SWIG_exception_fail(SWIG_TypeError, "BoltzmannGeneratorForce: flow weights must be bytes");
    temp = std::string(buffer, length);
    $1 = &temp;
}
%typemap(freearg) const std::string& weights ""
%typemap(typecheck) const std::string& weights {
    $1 = PyBytes_Check($input) ? 1 : 0;
}
%typemap(out) const std::string& BoltzmannPlugin::BoltzmannGeneratorForce::getFlowWeights {
    $result = PyBytes_FromStringAndSize($1->data(), $1->size());
}

/* Positions enter as float64 numpy arrays [n*N, 3] in nm (the Python wrappers below build them). */
%typemap(in) const std::vector<OpenMM::Vec3>& positions (std::vector<OpenMM::Vec3> temp) {
    if (!bufferToVec3($input, temp, "BoltzmannGeneratorForce.$symname"))
        SWIG_fail;
    $1 = &temp;
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_DOUBLE_ARRAY) const std::vector<OpenMM::Vec3>& positions {
    $1 = PyObject_CheckBuffer($input) ? 1 : 0;
}

/* How the argument and result types read in the docstrings (SWIG -doxygen). */
%typemap(doctype) const std::vector<OpenMM::Vec3>& positions "numpy.ndarray [n*N, 3] (nm)"
%typemap(doctype) std::vector<double> "numpy.ndarray [n]"
%typemap(doctype) std::vector<OpenMM::Vec3> "Quantity (list of openmm.Vec3, nm)"
%typemap(doctype) const std::vector<int>& "sequence of int"
%typemap(doctype) std::string BoltzmannPlugin::BoltzmannGeneratorForce::getWeights "bytes"
%typemap(doctype) const std::string& weights "bytes"

/* Per-sample values come back as numpy arrays [n]: method results and the fields of
   BoltzmannGeneratorSamples; its positions as numpy [n*N, 3] in nm. */
%typemap(out) std::vector<double> {
    $result = doublesToNumpy($1.data(), $1.size(), 0);
    if ($result == NULL)
        SWIG_fail;
}
%typemap(out) const std::vector<double>& {
    $result = doublesToNumpy($1->data(), $1->size(), 0);
    if ($result == NULL)
        SWIG_fail;
}
%typemap(out) const std::vector<OpenMM::Vec3>& BoltzmannPlugin::BoltzmannGeneratorSamples::positions {
    $result = doublesToNumpy($1->empty() ? NULL : &(*$1)[0][0], $1->size(), 3);
    if ($result == NULL)
        SWIG_fail;
}
%typemap(out) std::string BoltzmannPlugin::BoltzmannGeneratorForce::getWeights {
    $result = PyBytes_FromStringAndSize($1.data(), $1.size());
}

/* Lists of positions come back as lists of openmm.Vec3. */
%typemap(out, fragment="Vec3_to_PyVec3") std::vector<OpenMM::Vec3> {
    const std::vector<OpenMM::Vec3>& positions = $1;
    $result = PyList_New(positions.size());
    for (size_t i = 0; i < positions.size(); i++)
        PyList_SET_ITEM($result, i, Vec3_to_PyVec3(positions[i]));
}

/* The methods of openmm-bg's classes and functions run without the GIL: they never call into Python,
   and LibTorch refuses to run autograd (sampling, training) on a thread holding the GIL once the
   torch Python module is imported in the same process. */
%exception {
    bool failed = false;
    std::string message;
    Py_BEGIN_ALLOW_THREADS
    try {
        $action
    } catch (std::exception& e) {
        failed = true;
        message = e.what();
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        setOpenMMException(message.c_str());
        SWIG_fail;
    }
}
