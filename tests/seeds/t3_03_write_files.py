# Seed tutorial 003, "代码示例2".  Unchanged (writes test1.txt .. test5.txt
# in the current directory: the test runs it in a temporary one).
#encoding:utf-8
import multiprocessing

def writeContent(filepath):
    with open(filepath,"w")  as  fp:
        for i in range(100):
            fp.write("glory"+str(i)+"\n")

if __name__=="__main__":
    pList=[]
    for i in range(1,6):
        p=multiprocessing.Process(target=writeContent,args=("test"+str(i)+".txt",))
        pList.append(p)
        p.start()

    for p in pList:
        p.join()

    print ("程序运行成功!")
