/* A program built against the INSTALLED libdeepctr_mpi through find_package(deepctr) (CI, when
 * the library was built with MPI): run under mpirun, every rank joins the collective. */
#include <stdio.h>

#include <deepctr/mpi.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    dctr_mpi *mp = NULL;
    int ok = dctr_mpi_new(MPI_COMM_WORLD, &mp) == DCTR_OK;
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ok = ok && dctr_mpi_size(mp) == size &&
         dctr_collective_agree(dctr_mpi_collective(mp), DCTR_OK, "consumer") == DCTR_OK;
    if (mp && dctr_mpi_rank(mp) == 0)
        printf("libdeepctr_mpi %s consumer (%d ranks): %s\n", dctr_version(), size, ok ? "ok" : "FAILED");
    dctr_mpi_free(mp);
    MPI_Finalize();
    return ok ? 0 : 1;
}
